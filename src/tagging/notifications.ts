/**
 * The S3 tagger wired to configuration and telemetry: what src/handlers/tagger.ts exports, minus AWS setup.
 * With `index` (the handler builds it when INDEX_TABLE is set: dynamoLabelIndex(new DynamoDBClient(),
 * INDEX_TABLE)), labels also go to the label index and ObjectRemoved events remove them.
 */
import { silentTelemetry, type Telemetry } from '../telemetry.ts';
import { type TaggerEvent, type TaggerOptions, type TagOutcome, tagS3Event } from './tagger.ts';
import { EXTRA_SERVICE_TAGS } from './tags.ts';

export function createS3Tagger(o: TaggerOptions & { telemetry?: Telemetry }) {
  const telemetry = o.telemetry ?? silentTelemetry;
  return async function handle(event: TaggerEvent): Promise<TagOutcome[]> {
    let outcomes: TagOutcome[];
    try {
      outcomes = await tagS3Event(o, event);
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
        // Only the extra tags (EXTRA_SERVICE_TAGS) may be left out by design: an upload's own tags
        // (at most MAX_USER_TAGS) leave room for the others.
        const lost = out.dropped.filter((key) => !(EXTRA_SERVICE_TAGS as readonly string[]).includes(key));
        if (lost.length > 0)
          telemetry.failed('TagLimit', `no room for service tags ${out.dropped.join(', ')}`, where);
        else if (out.dropped.length > 0)
          telemetry.info(`no room for ${out.dropped.join(', ')} (the label index holds it)`, where);
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
    // The Lambda response: the embedding (hundreds of floats, a Float32Array that JSON spells as an
    // object of indexes) is stored in the vector index, not echoed back.
    return outcomes.map((out) => {
      if (!('classification' in out) || !out.classification?.embedding) return out;
      const { embedding: _, ...classification } = out.classification;
      return { ...out, classification };
    });
  };
}
