/**
 * What both Lambda functions make at init, once per container, before the first request: the
 * settings, read from the environment by the one reader (src/settings.ts), and the process-wide
 * classifier, made from them (top-level await: its session and warm-up run during init, and every
 * invocation reuses them).
 */
import { createClassifier } from '../classifier/classifier.ts';
import { readSettings } from '../settings.ts';

export const settings = readSettings(process.env);
export const classifier = await createClassifier(settings.classifier.modelDir, settings.classifier);
