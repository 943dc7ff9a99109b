/**
 * Fakes at the tagger's and the API's ports: an in-memory object store that records every call, and a
 * classifier that needs no model. The bytes decide what the fake classifier says: a first byte of 0
 * is a corrupt image, 1 an unsupported format; otherwise the label is `label-<first byte>`.
 */
import type { Classification, Classifier } from '../../src/classifier/classifier.ts';
import { CorruptImageError, UnsupportedFormatError } from '../../src/classifier/errors.ts';
import type { ModelFolder } from '../../src/classifier/model-folder.ts';
import { DEFAULT_LIMITS, type ImageLimits } from '../../src/classifier/preprocess.ts';
import type { ImageProperties } from '../../src/classifier/properties.ts';
import { bareEtag } from '../../src/tagging/label-index.ts';
import { ObjectChangedError, ObjectMissingError, type ObjectStore } from '../../src/tagging/object-store.ts';
import type { Tag } from '../../src/tagging/tags.ts';

export type FakeClassifier = Pick<
  Classifier,
  'classify' | 'folder' | 'limits' | 'threads' | 'initMs' | 'weights' | 'jpegDecoder'
> & {
  /** The byte length of every image it was asked to classify. */
  seen: number[];
  /** Colours and quality returned with every classification, when set. */
  properties?: ImageProperties;
};

export function fakeClassifier(limits: Partial<ImageLimits> = {}): FakeClassifier {
  const folder = {
    dir: '/fake',
    modelPath: '/fake/model.onnx',
    labels: ['a', 'b'],
    meta: { name: 'fake', version: '1', quantization: 'none' },
  } as unknown as ModelFolder;
  const fake: FakeClassifier = {
    seen: [],
    folder,
    limits: { ...DEFAULT_LIMITS, ...limits },
    threads: 1,
    initMs: 0,
    jpegDecoder: 'libvips',
    weights: {
      storage: null,
      file: 'model.onnx',
      reason: 'fake: one model file',
      requested: 'auto',
      exact: true,
    },
    async classify(bytes: Uint8Array, options?: { topK?: number }): Promise<Classification> {
      fake.seen.push(bytes.length);
      if (bytes.length === 0 || bytes[0] === 0) throw new CorruptImageError('fake: corrupt');
      if (bytes[0] === 1) throw new UnsupportedFormatError('fake: unsupported');
      const k = options?.topK ?? 3;
      const labels = Array.from({ length: k }, (_, i) => ({
        label: `label-${(bytes[0] ?? 0) + i}`,
        index: i,
        score: 0.5 / (i + 1),
      }));
      return {
        labels,
        ...(fake.properties ? { properties: fake.properties } : {}),
        timings: { decodeMs: 1, inferMs: 1, totalMs: 2 },
      };
    },
  };
  return fake;
}

interface StoredObject {
  bytes: Uint8Array;
  etag: string;
  tags: Tag[];
  lastModified: Date;
}

/**
 * An in-memory ObjectStore; `calls` lists every operation as "op key" ("get:1 key" for a read of at
 * most 1 byte). Every put makes a new version with a new ETag (quoted, as S3 answers it); a read
 * with ifMatch of another version throws ObjectChangedError, as S3's 412.
 */
export class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, StoredObject>();
  readonly calls: string[] = [];
  private version = 0;

  private find(bucket: string, key: string): StoredObject {
    const object = this.objects.get(`${bucket}/${key}`);
    if (!object) throw new ObjectMissingError(bucket, key);
    return object;
  }

  /** Stores a new version; returns its ETag. */
  put(bucket: string, key: string, bytes: Uint8Array, tags: Tag[] = []): string {
    const etag = `"v${++this.version}"`;
    this.objects.set(`${bucket}/${key}`, { bytes, etag, tags: [...tags], lastModified: new Date() });
    return etag;
  }

  delete(bucket: string, key: string): void {
    this.objects.delete(`${bucket}/${key}`);
  }

  tagsOf(bucket: string, key: string): Tag[] {
    return this.find(bucket, key).tags;
  }

  /** The calls made so far, and forget them. */
  take(): string[] {
    return this.calls.splice(0);
  }

  async get(
    bucket: string,
    key: string,
    { maxBytes, ifMatch }: { maxBytes: number; ranged?: boolean; ifMatch?: string },
  ) {
    this.calls.push(maxBytes === 1 ? `get:1 ${key}` : `get ${key}`);
    const o = this.find(bucket, key);
    if (ifMatch !== undefined && bareEtag(ifMatch) !== bareEtag(o.etag))
      throw new ObjectChangedError(bucket, key, ifMatch);
    return {
      bytes: o.bytes.subarray(0, Math.max(1, maxBytes)),
      size: o.bytes.length,
      etag: o.etag,
      lastModified: o.lastModified,
    };
  }

  async getTags(bucket: string, key: string) {
    this.calls.push(`getTags ${key}`);
    return this.find(bucket, key).tags.map((t) => ({ ...t }));
  }

  async putTags(bucket: string, key: string, tags: Tag[]) {
    this.calls.push(`putTags ${key}`);
    this.find(bucket, key).tags = tags.map((t) => ({ ...t }));
  }
}
