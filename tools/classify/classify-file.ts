/** One file of the classify CLI: checked by stat before it is read, so an oversized file costs nothing. */
import { open } from 'node:fs/promises';
import type { Classification, Classifier } from '../../src/classifier/classifier.ts';
import { ImageError } from '../../src/classifier/errors.ts';

export type FileOutcome = { file: string } & (
  | { result: Classification }
  | { error: { code: string; message: string } }
);

const UNREADABLE = new Set(['ENOENT', 'EISDIR', 'EACCES', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG']);

export async function classifyFile(
  classifier: Pick<Classifier, 'classify' | 'limits'>,
  file: string,
  topK: number,
): Promise<FileOutcome> {
  try {
    // One handle for stat and read: the size checked is the size of the file that is read.
    const handle = await open(file, 'r');
    let bytes: Buffer;
    try {
      const info = await handle.stat();
      if (!info.isFile())
        return { file, error: { code: 'FileNotReadable', message: `${file} is not a regular file` } };
      const { maxBytes } = classifier.limits;
      if (info.size > maxBytes)
        return {
          file,
          error: {
            code: 'ImageTooLarge',
            message: `file is ${info.size} bytes; the limit is ${maxBytes} bytes`,
          },
        };
      bytes = await handle.readFile();
    } finally {
      await handle.close();
    }
    return { file, result: await classifier.classify(bytes, { topK }) };
  } catch (err) {
    if (err instanceof ImageError) return { file, error: { code: err.code, message: err.message } };
    const code = (err as NodeJS.ErrnoException).code;
    if (code && UNREADABLE.has(code))
      return { file, error: { code: 'FileNotReadable', message: (err as Error).message } };
    throw err;
  }
}
