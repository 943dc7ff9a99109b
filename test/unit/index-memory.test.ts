/** The in-memory LabelIndex fake (test/helpers/memory-index.ts) holds to the LabelIndex contract. */
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, labelPk } from '../../src/aws/dynamo-index.ts';
import { InvalidCursorError, normalizeLabel } from '../../src/tagging/label-index.ts';
import { labelIndexContract } from '../helpers/index-contract.ts';
import { MemoryIndex } from '../helpers/memory-index.ts';

labelIndexContract('MemoryIndex (fake)', { index: async () => new MemoryIndex() });

describe('search cursors', () => {
  it('takes only the exact cursor it made: base64 ignores a trailing character, the decoder must not', () => {
    const pk = labelPk('bucket', normalizeLabel('dog'));
    // Cursors of every length modulo 4: "<cursor>x" decodes to the same bytes when the length is 0 mod 4.
    for (const sk of ['a', 'ab', 'abc', 'abcd', 'abcde', 'abcdef'].map((k) => `0000000001#${k}`)) {
      const cursor = encodeCursor({ pk, sk });
      expect(decodeCursor(cursor, pk)).toEqual({ pk, sk });
      for (const bad of [`${cursor}x`, `${cursor}=`, `x${cursor}`])
        expect(() => decodeCursor(bad, pk)).toThrow(InvalidCursorError);
      expect(() => decodeCursor(cursor, labelPk('bucket', normalizeLabel('cat')))).toThrow(
        InvalidCursorError,
      );
    }
  });
});
