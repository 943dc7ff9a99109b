/**
 * S3's rules for an object's tag set, which s3rver does not check (it stored `<`, `&`... and then
 * served XML it had not escaped). S3 answers 400 InvalidTag to an upload (`x-amz-tagging`, a POST
 * form's `tagging`), a CopyObject or a PutObjectTagging whose tags break one
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html):
 *   - at most 10 tags, keys unique;
 *   - a key of 1 to 128 Unicode characters, a value of 0 to 256;
 *   - only letters, digits, spaces (any script) and `+ - = . _ : / @`;
 *   - no key starting with `aws:` (reserved).
 */
import { MAX_KEY_CHARS, MAX_TAGS, MAX_VALUE_CHARS, S3_TAG_TEXT, type Tag } from '../../src/tagging/tags.ts';

/** S3's message for the first rule the tag set breaks, or undefined when S3 takes it. */
export function tagSetProblem(tags: readonly Tag[]): string | undefined {
  if (tags.length > MAX_TAGS) return `Object tags cannot be greater than ${MAX_TAGS}`;
  const keys = new Set<string>();
  for (const { Key, Value } of tags) {
    const keyChars = Array.from(Key).length;
    if (keyChars < 1) return 'The TagKey you have provided is invalid';
    if (keyChars > MAX_KEY_CHARS) return `The TagKey you have provided is too long, max ${MAX_KEY_CHARS}`;
    if (Array.from(Value).length > MAX_VALUE_CHARS)
      return `The TagValue you have provided is too long, max ${MAX_VALUE_CHARS}`;
    if (!S3_TAG_TEXT.test(Key)) return 'The TagKey you have provided is invalid';
    if (!S3_TAG_TEXT.test(Value)) return 'The TagValue you have provided is invalid';
    if (Key.toLowerCase().startsWith('aws:')) return 'Your TagKey cannot be prefixed with aws:';
    if (keys.has(Key)) return 'Cannot provide multiple Tags with the same key';
    keys.add(Key);
  }
  return undefined;
}
