/**
 * Telemetry through Powertools for AWS Lambda: JSON logs (Logger) and CloudWatch metrics in EMF
 * (Metrics, namespace ImageTagger): ColdStart, ImagesClassified, InferenceMs, DecodeMs and Failures
 * with a `reason` dimension (UnsupportedFormat, CorruptImage, ImageTooLarge, InvalidArgument,
 * InternalError, TagLimit). POWERTOOLS_METRICS_DISABLED=true turns metrics off (tests, local runs).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import type { Classifier } from '../classifier/classifier.ts';
import type { Telemetry } from '../telemetry.ts';

export const NAMESPACE = 'ImageTagger';

export interface Powertools extends Telemetry {
  logger: Logger;
  metrics: Metrics;
  /** Call at the start of every invocation. */
  begin(context: Context | undefined): void;
  /** Call at the end of every invocation (flushes the metrics). */
  end(): void;
  /** Wraps an event handler as a Lambda handler: begin, run, and end even when it throws. */
  instrument<E, R>(handle: (event: E) => Promise<R>): (event: E, context?: Context) => Promise<R>;
}

export function createPowertools(
  serviceName: string,
  classifier: Pick<Classifier, 'folder' | 'threads' | 'initMs' | 'weights'>,
): Powertools {
  const logger = new Logger({ serviceName });
  const metrics = new Metrics({ namespace: NAMESPACE, serviceName });
  const { meta } = classifier.folder;
  logger.appendKeys({ model: `${meta.name}@${meta.version}` });
  logger.info('classifier ready', {
    initMs: Math.round(classifier.initMs),
    threads: classifier.threads,
    quantization: meta.quantization,
    weights: classifier.weights,
    labelsMeaningful: meta.labelsMeaningful ?? true,
  });
  if (meta.labelsMeaningful === false)
    logger.warn('synthetic random weights: the labels of this model are meaningless', {
      source: meta.source,
    });
  const tools: Powertools = {
    logger,
    metrics,
    begin(context) {
      if (context) logger.addContext(context);
      metrics.captureColdStartMetric();
    },
    end() {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    },
    instrument(handle) {
      return async (event, context) => {
        tools.begin(context);
        try {
          return await handle(event);
        } finally {
          tools.end();
        }
      };
    },
    classified(timings, extra) {
      metrics.addMetric('ImagesClassified', MetricUnit.Count, 1);
      metrics.addMetric('InferenceMs', MetricUnit.Milliseconds, timings.inferMs);
      metrics.addMetric('DecodeMs', MetricUnit.Milliseconds, timings.decodeMs);
      logger.info('classified', { ...extra, timings });
    },
    failed(reason, message, extra) {
      const single = metrics.singleMetric();
      single.addDimension('reason', reason);
      single.addMetric('Failures', MetricUnit.Count, 1);
      if (reason === 'InternalError') logger.error(message, { reason, ...extra });
      else logger.warn(message, { reason, ...extra });
    },
    info(message, extra) {
      logger.info(message, extra ?? {});
    },
  };
  return tools;
}
