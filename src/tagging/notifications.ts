/**
 * The S3 tagger wired to configuration and telemetry: what src/handlers/tagger.ts exports, minus AWS setup.
 * With `index` (the handler builds it when INDEX_TABLE is set: dynamoLabelIndex(new DynamoDBClient(),
 * INDEX_TABLE)), labels also go to the label index and ObjectRemoved events remove them.
 */
import { ConfigError } from '../classifier/errors.ts';
import { DEFAULT_MIN_CONFIDENCE } from '../classifier/postprocess.ts';
import { silentTelemetry, type Telemetry } from '../telemetry.ts';
import {
  type TaggerEvent,
  type TaggerOptions,
  type TagLanguage,
  type TagOutcome,
  tagS3Event,
} from './tagger.ts';
import { DEFAULT_IMAGE_SUFFIXES, DEFAULT_UPLOAD_PREFIX } from './tags.ts';

/**
 * UPLOAD_PREFIX, IMAGE_SUFFIXES; MIN_CONFIDENCE (0 to 1, default DEFAULT_MIN_CONFIDENCE: labels and
 * categories below it are neither tagged nor indexed); TAG_LANGUAGE (en or zh, default en: the
 * language of the names in the tags; the index keeps English and search takes both).
 */
export function taggerConfig(env: Record<string, string | undefined>): {
  prefix: string;
  suffixes: string[];
  minConfidence: number;
  language: TagLanguage;
} {
  const prefix = env.UPLOAD_PREFIX ?? DEFAULT_UPLOAD_PREFIX;
  const suffixes = env.IMAGE_SUFFIXES
    ? env.IMAGE_SUFFIXES.split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : DEFAULT_IMAGE_SUFFIXES;
  if (suffixes.length === 0) throw new ConfigError('IMAGE_SUFFIXES must list at least one suffix');
  const min = env.MIN_CONFIDENCE?.trim();
  const minConfidence = min ? Number(min) : DEFAULT_MIN_CONFIDENCE;
  if (!Number.isFinite(minConfidence) || minConfidence < 0 || minConfidence > 1)
    throw new ConfigError(`MIN_CONFIDENCE must be a number from 0 to 1, got "${env.MIN_CONFIDENCE}"`);
  const language = (env.TAG_LANGUAGE?.trim() || 'en') as TagLanguage;
  if (language !== 'en' && language !== 'zh')
    throw new ConfigError(`TAG_LANGUAGE must be en or zh, got "${env.TAG_LANGUAGE}"`);
  return { prefix, suffixes, minConfidence, language };
}

export function createS3Tagger(
  o: Omit<TaggerOptions, 'prefix' | 'suffixes'> & {
    telemetry?: Telemetry;
    env?: Record<string, string | undefined>;
  },
) {
  const telemetry = o.telemetry ?? silentTelemetry;
  const options: TaggerOptions = { ...o, ...taggerConfig(o.env ?? {}) };
  return async function handle(event: TaggerEvent): Promise<TagOutcome[]> {
    let outcomes: TagOutcome[];
    try {
      outcomes = await tagS3Event(options, event);
    } catch (err) {
      // Thrown on purpose: Lambda retries, then the on-failure destination keeps the event.
      telemetry.failed('Transient', (err as Error)?.message ?? String(err), {
        error: (err as Error)?.name,
      });
      throw err;
    }
    for (const out of outcomes) {
      const where = { bucket: out.bucket, key: out.key, result: out.result };
      if (out.result === 'tagged' || out.result === 'unchanged') {
        if (out.classification) telemetry.classified(out.classification.timings, where);
        else telemetry.failed(out.status, out.detail ?? out.status, where);
        if (out.dropped.length > 0)
          telemetry.failed('TagLimit', `no room for service tags ${out.dropped.join(', ')}`, where);
        if (out.repairs)
          telemetry.info('repaired: a newer event of the key was applied to the tags', {
            ...where,
            repairs: out.repairs,
          });
      } else if (out.result === 'malformed') telemetry.failed('MalformedRecord', out.detail, where);
      else if (out.result === 'stale')
        telemetry.info('stale: the index holds a newer event of this key; no tags written', where);
      else if (out.result === 'superseded')
        telemetry.info('superseded: a newer version replaced the object; no tags written', where);
      else if (out.result === 'removed')
        telemetry.info(`removed from the index (${out.index})`, { ...where, index: out.index });
      else telemetry.info(`skipped: ${out.result}`, where);
    }
    return outcomes;
  };
}
