/**
 * What the HTTP API and the S3 tagger report, independent of how: the Lambda handlers implement it
 * with Powertools (src/handlers/powertools.ts: structured logs and CloudWatch EMF metrics), tests
 * may pass their own recorder.
 */
import type { Timings } from './classifier/classifier.ts';

export interface Telemetry {
  /** One image classified. */
  classified(timings: Timings, extra?: Record<string, unknown>): void;
  /** One request or object that failed; `reason` is an error code such as CorruptImage. */
  failed(reason: string, message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
}

export const silentTelemetry: Telemetry = {
  classified() {},
  failed() {},
  info() {},
};
