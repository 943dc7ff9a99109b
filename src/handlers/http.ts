/** Lambda entry point of the HTTP API (see src/http/api.ts). */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { classifier } from '../classifier/instance.ts';
import { createApi } from '../http/api.ts';
import { createPowertools } from './powertools.ts';

const powertools = createPowertools('image-tagger-api', classifier);
const api = createApi({ classifier, telemetry: powertools });

export async function handler(event: APIGatewayProxyEventV2, context?: Context) {
  powertools.begin(context);
  try {
    return await api(event);
  } finally {
    powertools.end();
  }
}
