import { describe, expect, it } from 'vitest';
import { readImageBody } from '../../src/http/body.ts';

const MULTIPART = 'multipart/form-data; boundary=zzz';
const part = (name: string, filename: string, data: string | Buffer) =>
  Buffer.concat([
    Buffer.from(
      `--zzz\r\ncontent-disposition: form-data; name="${name}"; filename="${filename}"\r\ncontent-type: application/octet-stream\r\n\r\n`,
    ),
    Buffer.from(data),
    Buffer.from('\r\n'),
  ]);
const form = (...parts: Buffer[]) => Buffer.concat([...parts, Buffer.from('--zzz--\r\n')]);

describe('readImageBody, multipart/form-data', () => {
  it('answers InvalidArgument for a truncated part instead of crashing the process', async () => {
    const truncated = Buffer.from(
      '--zzz\r\ncontent-disposition: form-data; name="image"; filename="a.jpg"\r\n\r\nabc',
    );
    await expect(readImageBody(MULTIPART, truncated, 1000)).rejects.toMatchObject({
      code: 'InvalidArgument',
    });
  });

  it('accepts an image of exactly the byte limit, and refuses one byte more', async () => {
    const limit = 64;
    const exact = await readImageBody(MULTIPART, form(part('image', 'a.jpg', Buffer.alloc(limit, 7))), limit);
    expect(exact.bytes.length).toBe(limit);
    await expect(
      readImageBody(MULTIPART, form(part('image', 'a.jpg', Buffer.alloc(limit + 1, 7))), limit),
    ).rejects.toMatchObject({ code: 'ImageTooLarge' });
  });

  it('finds the image field after another file part', async () => {
    const body = form(part('other', 'notes.txt', 'hello'), part('image', 'a.jpg', 'IMAGEBYTES'));
    const out = await readImageBody(MULTIPART, body, 1000);
    expect(Buffer.from(out.bytes).toString()).toBe('IMAGEBYTES');
  });

  it('a large other file part does not count against the image limit', async () => {
    const body = form(part('other', 'big.bin', Buffer.alloc(5000)), part('image', 'a.jpg', 'IMAGEBYTES'));
    const out = await readImageBody(MULTIPART, body, 1000);
    expect(out.bytes.length).toBe(10);
  });

  it('says which field is missing when there is no image part', async () => {
    await expect(readImageBody(MULTIPART, form(part('other', 'a.jpg', 'x')), 1000)).rejects.toMatchObject({
      code: 'InvalidArgument',
      message: expect.stringContaining('"image"'),
    });
  });
});
