/**
 * Telemetry through Powertools for AWS Lambda: JSON logs (Logger) and CloudWatch metrics in EMF
 * (Metrics): ColdStart, ImagesClassified, InferenceMs, DecodeMs and Failures with a `reason`
 * dimension (UnsupportedFormat, CorruptImage, ImageTooLarge, InvalidArgument, InternalError, TagLimit).
 *
 * The service and the namespace come from Powertools' own environment variables
 * POWERTOOLS_SERVICE_NAME and POWERTOOLS_METRICS_NAMESPACE, which serverless.yml sets per function
 * (custom.metricsServices, custom.metricsNamespace: the one place they are defined, which the
 * dashboard reads too; serverless-offline passes them to `npm start`'s functions the same way).
 * POWERTOOLS_METRICS_DISABLED=true turns metrics off (tests, local runs).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import middy, { type MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Classifier } from '../classifier/classifier.ts';
import { formatModelRef } from '../tagging/tags.ts';
import type { Telemetry } from '../telemetry.ts';

export interface Powertools extends Telemetry {
  logger: Logger;
  metrics: Metrics;
}

export function createPowertools(
  classifier: Pick<Classifier, 'folder' | 'threads' | 'initMs' | 'weights'>,
): Powertools {
  const { meta } = classifier.folder;
  const logger = new Logger({ persistentKeys: { model: formatModelRef(meta) } });
  const metrics = new Metrics({ logger });
  // One short line per cold start; the full record (quantization, threads, files) is in GET /health.
  logger.info('classifier ready', {
    storage: classifier.weights.storage,
    reason: classifier.weights.reason,
    initMs: Math.round(classifier.initMs),
  });
  if (meta.labelsMeaningful === false)
    logger.warn('synthetic random weights: the labels of this model are meaningless', {
      source: meta.source,
    });
  return {
    logger,
    metrics,
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
}

/**
 * The cold start and the flush of Powertools' `logMetrics` middleware, but silent when an
 * invocation recorded nothing. `logMetrics` calls publishStoredMetrics() after every invocation,
 * and that warns "No application metrics to publish" whenever nothing was stored: on every GET /,
 * every GET /health and every tagger event that only skips objects, a WARN line each time, in the
 * logs people read for real warnings. Metrics' own other warnings stay on (its logger is ours).
 */
export function flushMetrics<E, R>(metrics: Metrics): MiddlewareObj<E, R, Error, Context> {
  const publish = async () => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  };
  return {
    before: async (request) => {
      metrics.captureColdStartMetric(request.context.functionName);
    },
    after: publish,
    onError: publish,
  };
}

/**
 * The Lambda handler of an event handler, with middy: Powertools' injectLambdaContext (the Lambda
 * context's keys on every log line, cold start flag) and flushMetrics (above), also when it throws.
 */
export function withPowertools<E, R>(
  tools: Pick<Powertools, 'logger' | 'metrics'>,
  handle: (event: E, context: Context) => Promise<R>,
) {
  return middy<E, R, Error, Context>(handle)
    .use(injectLambdaContext(tools.logger))
    .use(flushMetrics<E, R>(tools.metrics));
}
