/** Lambda entry point of the HTTP API (see src/http/api.ts). */
import { classifier } from '../classifier/instance.ts';
import { createApi } from '../http/api.ts';
import { createPowertools, withPowertools } from './powertools.ts';

const powertools = createPowertools(classifier);
const api = createApi({ classifier, telemetry: powertools });

export const handler = withPowertools(powertools, api);
