/**
 * The process-wide classifier, created when this module is first imported (top-level await), so a
 * Lambda container builds its session and warm-up during init and every invocation reuses them.
 * Configuration comes from the environment (see config.ts) and is validated here, once.
 */
import { createClassifier } from './classifier.ts';
import { readConfig } from './config.ts';

const config = readConfig();
export const classifier = await createClassifier(config.modelDir, config);
