/**
 * A real local S3 (s3rver, the server behind serverless-s3-local) on loopback, with its event
 * stream turned into AWS-shaped S3 notifications: s3rver reports raw keys, AWS URL-encodes them
 * with '+' for spaces, so keys are re-encoded here exactly as S3 does before anyone sees the event.
 * Used by `npm start` and by the integration tests.
 */
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { S3Event } from 'aws-lambda';
import { encodeS3Key } from '../../src/tagging/tags.ts';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  on(event: 'event', listener: (event: S3Event) => void): void;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

/** s3rver comes with serverless-s3-local; resolve it from there rather than relying on hoisting. */
function loadS3rver(): S3rverClass {
  const require = createRequire(import.meta.url);
  try {
    return require('s3rver') as S3rverClass;
  } catch {
    return createRequire(require.resolve('serverless-s3-local'))('s3rver') as S3rverClass;
  }
}

/** The event as AWS would deliver it: keys URL-encoded, '+' for spaces. */
export function awsShapedEvent(event: S3Event): S3Event {
  return {
    Records: event.Records.map((r) => ({
      ...r,
      s3: { ...r.s3, object: { ...r.s3.object, key: encodeS3Key(r.s3.object.key) } },
    })),
  };
}

let lastSequencer = 0n;

/**
 * A sequencer as AWS's orders events: strictly increasing (here over all keys), 16 hex digits.
 * s3rver's own is Date.now() in hex, equal for two events within a millisecond.
 */
export function nextSequencer(): string {
  const now = BigInt(Date.now()) << 16n;
  lastSequencer = now > lastSequencer ? now : lastSequencer + 1n;
  return lastSequencer.toString(16).toUpperCase().padStart(16, '0');
}

/** The event with a sequencer from nextSequencer on each record (in the order s3rver emits them). */
export function withSequencer(event: S3Event): S3Event {
  return {
    Records: event.Records.map((r) => ({
      ...r,
      s3: { ...r.s3, object: { ...r.s3.object, sequencer: nextSequencer() } },
    })),
  };
}

export interface LocalS3 {
  endpoint: string;
  close(): Promise<void>;
}

export async function startLocalS3(options: {
  directory: string;
  buckets: string[];
  port?: number;
  address?: string;
  onEvent?: (event: S3Event) => void;
}): Promise<LocalS3> {
  await mkdir(options.directory, { recursive: true });
  const S3rver = loadS3rver();
  const server = new S3rver({
    address: options.address ?? '127.0.0.1',
    port: options.port ?? 0,
    directory: options.directory,
    silent: true,
    allowMismatchedSignatures: true,
    configureBuckets: options.buckets.map((name) => ({ name })),
  });
  if (options.onEvent) {
    const onEvent = options.onEvent;
    server.on('event', (event) => onEvent(awsShapedEvent(withSequencer(event))));
  }
  const address = await server.run();
  return {
    endpoint: `http://${options.address ?? '127.0.0.1'}:${address.port}`,
    close: () => server.close(),
  };
}
