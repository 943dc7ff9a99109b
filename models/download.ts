/**
 * Pinned, cached downloads for models/build.ts. The lock file (models/sources.lock.json, or
 * MODEL_SOURCES_LOCK) pins every URL by size and sha256; a file whose size or hash differs stops the
 * build. Downloads are kept under the cache folder by hash, and a cached file with the right hash is
 * used without touching the network. A URL that is not pinned yet is pinned on its first download.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface Pin {
  sha256: string;
  bytes?: number;
  licence?: string;
  what?: string;
}

export interface LockFile {
  comment?: string;
  /** What `npm run model:build` builds with no source flag. */
  defaults?: { source?: string; name?: string; labels?: string; calibration?: string };
  /** URL -> pin (older lock files hold a bare sha256 string). */
  files: Record<string, Pin | string>;
}

export const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

export async function readLock(path: string): Promise<LockFile> {
  const lock = JSON.parse(await readFile(path, 'utf8')) as LockFile;
  if (typeof lock !== 'object' || lock === null || typeof lock.files !== 'object')
    throw new Error(`${path}: not a lock file (needs a "files" object)`);
  return lock;
}

export function pinOf(lock: LockFile, url: string): Pin | undefined {
  const p = lock.files[url];
  return typeof p === 'string' ? { sha256: p } : p;
}

export interface Fetched {
  bytes: Uint8Array;
  sha256: string;
  /** Where the verified file is kept. */
  path: string;
  fromCache: boolean;
}

export interface FetchOptions {
  /** What the file is, for messages ("fp32 model", "labels"). */
  what: string;
  /** What to do instead when the download fails. */
  hint: string;
  lockFile: string;
  cacheDir: string;
  /** The pin, when the caller has it from elsewhere (e.g. the calibration photo list). */
  pin?: Pin;
  /** Progress lines on stderr (for large files). */
  progress?: boolean;
}

function checkAgainst(url: string, pin: Pin, bytes: Uint8Array, sha: string, lockFile: string): void {
  if (pin.bytes !== undefined && pin.bytes !== bytes.length)
    throw new Error(
      `size mismatch for ${url}: got ${bytes.length} bytes, ${lockFile} pins ${pin.bytes}. The file changed upstream or the download is corrupt; refusing to build.`,
    );
  if (pin.sha256 !== sha)
    throw new Error(
      `sha256 mismatch for ${url}: got ${sha}, ${lockFile} pins ${pin.sha256}. The file changed upstream or the download is corrupt; refusing to build.`,
    );
}

/** A file could not be fetched at all (no network, host unreachable, HTTP error): not a bad file. */
export class DownloadError extends Error {
  /** The host that could not be reached (or answered an error). */
  readonly host: string;
  constructor(url: string, message: string) {
    super(message);
    this.name = 'DownloadError';
    this.host = new URL(url).host;
  }
}

async function download(url: string, options: FetchOptions, expected?: number): Promise<Uint8Array> {
  const { what, hint } = options;
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new DownloadError(
      url,
      `cannot download ${what} from ${url} (${(err as Error).cause ?? (err as Error).message}); ${hint}`,
    );
  }
  if (!response.ok || !response.body)
    throw new DownloadError(url, `cannot download ${what} from ${url} (HTTP ${response.status}); ${hint}`);
  const total = Number(response.headers.get('content-length') ?? 0);
  if (expected !== undefined && total > 0 && total !== expected) {
    await response.body.cancel();
    throw new Error(
      `size mismatch for ${url}: the server announces ${total} bytes, ${options.lockFile} pins ${expected}; refusing to build.`,
    );
  }
  const chunks: Uint8Array[] = [];
  let received = 0;
  let lastReport = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(chunk);
    received += chunk.length;
    if (options.progress && (received - lastReport > 4 << 20 || received === total)) {
      lastReport = received;
      const pct = total ? ` (${((100 * received) / total).toFixed(0)}%)` : '';
      process.stderr.write(`  downloading ${what}: ${(received / 1e6).toFixed(1)} MB${pct}\n`);
    }
  }
  return Buffer.concat(chunks);
}

/**
 * The verified bytes of `url`: from the cache when a file with the pinned hash is there, else
 * downloaded, checked against the pin (size, then sha256) and cached. Unpinned URLs are pinned in
 * the lock file after their first download.
 */
export async function fetchPinned(url: string, options: FetchOptions): Promise<Fetched> {
  const lock = await readLock(options.lockFile);
  const pin = options.pin ?? pinOf(lock, url);
  const name = basename(new URL(url).pathname) || 'download';
  const cachePath = (sha: string) => join(options.cacheDir, 'downloads', `${sha.slice(0, 16)}-${name}`);
  if (pin) {
    const cached = await readFile(cachePath(pin.sha256)).catch(() => undefined);
    if (
      cached &&
      sha256Hex(cached) === pin.sha256 &&
      (pin.bytes === undefined || pin.bytes === cached.length)
    )
      return { bytes: cached, sha256: pin.sha256, path: cachePath(pin.sha256), fromCache: true };
  }
  const bytes = await download(
    url,
    pin
      ? {
          ...options,
          hint: `${options.hint}; or copy the file to ${cachePath(pin.sha256)} (a file there with the pinned sha256 is used without downloading)`,
        }
      : options,
    pin?.bytes,
  );
  const sha = sha256Hex(bytes);
  if (pin) checkAgainst(url, pin, bytes, sha, options.lockFile);
  else {
    // Re-read: another download of this build may have pinned something meanwhile.
    const fresh = await readLock(options.lockFile);
    fresh.files[url] = { bytes: bytes.length, sha256: sha };
    await writeFile(options.lockFile, `${JSON.stringify(fresh, null, 2)}\n`);
    console.log(`  pinned ${bytes.length} bytes, sha256 ${sha} for ${url} in ${options.lockFile}`);
  }
  const path = cachePath(sha);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.part`, bytes);
  await rename(`${path}.part`, path);
  return { bytes, sha256: sha, path, fromCache: false };
}
