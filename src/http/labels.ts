/**
 * The taught-name routes of the HTTP API (issue 26, /work/api-spec.md; docs/taught-names.md). Wiring
 * only: the logic is src/tagging/teaching.ts, the store src/tagging/taught-labels.ts.
 *
 *   GET    /labels             {labels: [label without examples and not]}
 *   GET    /labels/{name}      the label; 404 NotFound
 *   PUT    /labels/{name}      {examples: [3..100 keys], not?: [keys]} -> 201 (new) / 200 (replaced), the label
 *                              400 InvalidArgument, 404 NotFound (an example), 409 NameTaken (a vocabulary word)
 *   DELETE /labels/{name}      {name, removed, complete}; 404 NotFound
 * PUT and DELETE are editors only (EDITOR_ROUTES, src/http/access.ts).
 * A label: {name, zh: null, model, understoodAs: {group?: {label, zh?}, kind: "group+embedding" |
 * "embedding", threshold}, examples, not, createdBy, createdByEmail?, createdAt, labelled, complete, progress?}:
 * createdBy is the teacher's user name, createdByEmail their verified e-mail address when the request
 * carried their ID token (X-Id-Token, src/http/access.ts callerOf).
 *
 * The name in the path is URL-encoded UTF-8, decoded exactly once: serverless-offline passes the
 * path still encoded, API Gateway HTTP APIs already decoded (rawPath). A normalised name never holds
 * '%' (normalizeLabel turns it into a space), so a path holding a %XX escape is an encoded one and
 * is decoded here; any other path is taken as it is.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { LabelIndex } from '../tagging/label-index.ts';
import type { ObjectStore } from '../tagging/object-store.ts';
import type { TaggerOptions } from '../tagging/tagger.ts';
import { formatModelRef } from '../tagging/tags.ts';
import type { TaughtLabel, TaughtLabelStore } from '../tagging/taught-labels.ts';
import { forget, groupSizeOf, TeachingError, type TeachingPorts, teach } from '../tagging/teaching.ts';
import type { VectorIndex } from '../tagging/vector-index.ts';
import type { Caller } from './access.ts';
import { bodyBytes } from './body.ts';
import { HttpError } from './images.ts';

export const LABELS_PATH = '/labels';
/** A PUT body lists at most 200 keys of up to 1024 bytes, in JSON. */
export const MAX_LABEL_REQUEST_BYTES = 256 * 1024;

/** The AWS ports the label routes use (src/handlers/image-ports.ts makes them on first use). */
export interface LabelPorts {
  index: LabelIndex;
  store: ObjectStore;
  labels: TaughtLabelStore;
  vectors?: Pick<VectorIndex, 'get' | 'query'>;
}

export interface LabelRoutesConfig {
  bucket: string;
  ports(): Promise<LabelPorts>;
  /** The tag language (TAG_LANGUAGE), as the tagger writes names of labels in the tags. */
  language: TaggerOptions['language'];
  /** Called after a label changed (the api's cached list of names is read again). */
  changed?(bucket: string): void;
}

/** The name of /labels/{name}, decoded once (see the module's comment). */
export function nameFromPath(path: string): string {
  const raw = path.slice(LABELS_PATH.length + 1);
  if (!/%[0-9A-Fa-f]{2}/.test(raw)) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'InvalidArgument', 'the name in the path is not valid URL-encoded UTF-8');
  }
}

/**
 * `words` tells which words search reads as the vocabulary's (a name is refused when it is one) and
 * their Chinese names.
 */
export function createLabelRoutes(
  config: LabelRoutesConfig,
  classifier: TaggerOptions['classifier'],
  words: { isVocabularyWord(word: string): boolean; zhOf(name: string): string | undefined },
) {
  const model = formatModelRef(classifier.folder.meta);
  const groupSize = groupSizeOf(classifier.folder.vocabulary);

  const view = (l: TaughtLabel, lists = true) => {
    const zh = l.group !== undefined ? words.zhOf(l.group) : undefined;
    return {
      name: l.name,
      zh: null,
      model: l.model,
      understoodAs: {
        ...(l.group !== undefined ? { group: { label: l.group, ...(zh ? { zh } : {}) } } : {}),
        kind: l.group !== undefined ? 'group+embedding' : 'embedding',
        threshold: Number(l.threshold.toFixed(4)),
      },
      ...(lists ? { examples: l.examples, not: l.not } : {}),
      createdBy: l.createdBy,
      ...(l.createdByEmail ? { createdByEmail: l.createdByEmail } : {}),
      createdAt: l.createdAt,
      labelled: l.labelled,
      complete: l.complete,
      ...(l.progress !== undefined ? { progress: l.progress } : {}),
    };
  };

  async function teachingPorts(): Promise<TeachingPorts> {
    const ports = await config.ports();
    if (!ports.vectors)
      throw new HttpError(404, 'NotFound', 'taught names need the vector index (VECTOR_INDEX)');
    return {
      bucket: config.bucket,
      model,
      index: ports.index,
      vectors: ports.vectors,
      labels: ports.labels,
      tagging: { store: ports.store, classifier, language: config.language },
      groupSize,
      isVocabularyWord: words.isVocabularyWord,
    };
  }

  const asHttp = (err: unknown): never => {
    if (err instanceof TeachingError) {
      const [status, code] =
        err.kind === 'taken'
          ? [409, 'NameTaken']
          : err.kind === 'invalid'
            ? [400, 'InvalidArgument']
            : [404, 'NotFound'];
      throw new HttpError(status, code, err.message);
    }
    throw err;
  };

  return async function handle(
    event: APIGatewayProxyEventV2,
    method: string,
    path: string,
    caller: Caller,
  ): Promise<{ status: number; body: unknown }> {
    if (path === LABELS_PATH) {
      if (method !== 'GET') throw new HttpError(405, 'MethodNotAllowed', 'use GET /labels');
      const labels = await (await config.ports()).labels.list(config.bucket);
      return { status: 200, body: { labels: labels.map((l) => view(l, false)) } };
    }
    const name = nameFromPath(path);
    if (method === 'GET') {
      const label = await (await config.ports()).labels.get(config.bucket, name);
      if (!label) throw new HttpError(404, 'NotFound', `no name "${name}"`);
      return { status: 200, body: view(label) };
    }
    if (method === 'PUT') {
      const raw = bodyBytes(event.body, event.isBase64Encoded);
      if (raw.length > MAX_LABEL_REQUEST_BYTES)
        throw new HttpError(400, 'InvalidArgument', `the body is over ${MAX_LABEL_REQUEST_BYTES} bytes`);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new HttpError(
          400,
          'InvalidArgument',
          'the body must be JSON {"examples": [keys], "not"?: [keys]}',
        );
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw new HttpError(400, 'InvalidArgument', 'the body must be a JSON object {"examples": [keys]}');
      const { examples, not } = body as Record<string, unknown>;
      try {
        const { label, result } = await teach(await teachingPorts(), {
          name,
          examples,
          not,
          by: caller.name,
          ...(caller.email ? { byEmail: caller.email } : {}),
        });
        config.changed?.(config.bucket);
        return { status: result === 'created' ? 201 : 200, body: view(label) };
      } catch (err) {
        return asHttp(err);
      }
    }
    if (method === 'DELETE') {
      try {
        const out = await forget(await teachingPorts(), name);
        config.changed?.(config.bucket);
        return { status: 200, body: out };
      } catch (err) {
        return asHttp(err);
      }
    }
    throw new HttpError(405, 'MethodNotAllowed', `use GET, PUT or DELETE ${LABELS_PATH}/{name}`);
  };
}
