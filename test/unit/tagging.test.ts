import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { legacyNormalizeLabel, normalizeLabel } from '../../src/tagging/label-index.ts';
import {
  decodeS3Key,
  encodeS3Key,
  formatLabelList,
  isTaggable,
  MAX_TAGS,
  mergeTags,
  parseLabelList,
  sanitizeTagValue,
  serviceTags,
} from '../../src/tagging/tags.ts';

const S3_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const model = { name: 'resnet18-int8', version: '2' };

describe('tag values', () => {
  it('sanitises ImageNet names into what S3 accepts', () => {
    expect(sanitizeTagValue("jack-o'-lantern")).toBe('jack-o-lantern');
    expect(sanitizeTagValue('crane (bird)')).toBe('crane bird');
    expect(sanitizeTagValue('tench, Tinca tinca')).toBe('tench Tinca tinca');
    expect(sanitizeTagValue('  St. Bernard  ')).toBe('St. Bernard');
    expect(sanitizeTagValue('café "quoted" <b>')).toBe('café quoted b');
    for (const v of ["Geoffroy's spider monkey", 'a,b;c!d?e#f%g&h*i', 'x'.repeat(400)]) {
      const out = sanitizeTagValue(v);
      expect(out).toMatch(S3_VALUE);
      expect(Array.from(out).length).toBeLessThanOrEqual(256);
    }
    expect(Array.from(sanitizeTagValue('🐕'.repeat(300))).length).toBe(0); // emoji are not letters
    expect(Array.from(sanitizeTagValue('é'.repeat(300)))).toHaveLength(256);
  });

  it('formats and parses the label list within 256 characters', () => {
    const labels = [
      { label: 'crane (bird)', index: 134, score: 0.81234 },
      { label: 'a/b=c', index: 1, score: 0.1 },
    ];
    const value = formatLabelList(labels);
    expect(value).toBe('crane bird=0.812/a b c=0.100');
    expect(parseLabelList(value)).toEqual([
      { label: 'crane bird', score: 0.812 },
      { label: 'a b c', score: 0.1 },
    ]);
    const many = Array.from({ length: 20 }, (_, i) => ({ label: 'x'.repeat(60), index: i, score: 0.01 }));
    const long = formatLabelList(many);
    expect(long.length).toBeLessThanOrEqual(256);
    expect(parseLabelList(long).length).toBe(3);
  });

  it('builds the service tags for each status', () => {
    const ok = serviceTags('ok', model, [{ label: "jack-o'-lantern", index: 607, score: 0.9 }]);
    expect(ok).toEqual([
      { Key: 'tagger:status', Value: 'ok' },
      { Key: 'tagger:top', Value: 'jack-o-lantern' },
      { Key: 'tagger:labels', Value: 'jack-o-lantern=0.900' },
      { Key: 'tagger:model', Value: 'resnet18-int8@2' },
    ]);
    expect(serviceTags('CorruptImage', model).map((t) => t.Key)).toEqual(['tagger:status', 'tagger:model']);
  });
});

describe('one label form for tags, index and search (normalizeLabel)', () => {
  it('finds each label by the form its tags show and by the original form', () => {
    const cases: [string, string][] = [
      ["jack-o'-lantern", 'jack-o-lantern'],
      ['crane (bird)', 'crane bird'],
      ["potter's wheel", 'potters wheel'],
      ['tench, Tinca tinca', 'tench tinca tinca'],
      ['Golden  Retriever ', 'golden retriever'],
      ['AC/DC = rock', 'ac dc rock'],
    ];
    for (const [label, form] of cases) {
      expect(normalizeLabel(label)).toBe(form);
      const [, top, list] = serviceTags('ok', model, [{ label, score: 0.9, index: 0 }]);
      expect(normalizeLabel(top?.Value ?? '')).toBe(form);
      expect(normalizeLabel(parseLabelList(list?.Value ?? '')[0]?.label ?? '')).toBe(form);
    }
    // The legacy form (what partitions were named before) differs exactly for such labels.
    expect(legacyNormalizeLabel("Jack-o'-Lantern ")).toBe("jack-o'-lantern");
    expect(legacyNormalizeLabel('Golden  Retriever')).toBe(normalizeLabel('Golden  Retriever'));
  });

  it('the tag form of any label normalises like the label itself', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (label) => {
        const list = parseLabelList(formatLabelList([{ label, score: 0.5, index: 0 }]));
        expect(normalizeLabel(sanitizeTagValue(label))).toBe(normalizeLabel(label));
        if (list.length > 0) expect(normalizeLabel(list[0]?.label ?? '')).toBe(normalizeLabel(label));
      }),
      { numRuns: 300, seed: 16 },
    );
  });
});

describe('mergeTags', () => {
  const ours = serviceTags('ok', model, [{ label: 'dog', index: 1, score: 0.5 }]);
  it('keeps user tags, replaces ours', () => {
    const existing = [
      { Key: 'owner', Value: 'a' },
      { Key: 'tagger:top', Value: 'cat' },
      { Key: 'tagger:old', Value: 'x' },
    ];
    const { tags, dropped } = mergeTags(existing, ours);
    expect(tags).toEqual([{ Key: 'owner', Value: 'a' }, ...ours]);
    expect(dropped).toEqual([]);
  });
  it('drops our least important tags first when the object is crowded', () => {
    const nine = Array.from({ length: 9 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    const { tags, dropped } = mergeTags(nine, [...ours].reverse());
    expect(tags).toHaveLength(MAX_TAGS);
    expect(tags.at(-1)).toEqual({ Key: 'tagger:status', Value: 'ok' });
    expect(dropped).toEqual(['tagger:top', 'tagger:labels', 'tagger:model']);
    const ten = Array.from({ length: 10 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    expect(mergeTags(ten, ours).tags).toEqual(ten);
  });
});

describe('keys', () => {
  it('decodes S3 event keys (+ is a space) and round-trips', () => {
    expect(decodeS3Key('uploads/my+dog%2Bcat+%C3%A9.jpg')).toBe('uploads/my dog+cat é.jpg');
    for (const key of ['uploads/a b+c.jpg', 'uploads/ü/ß (1)!*.png', "uploads/it's 100%.gif"])
      expect(decodeS3Key(encodeS3Key(key))).toBe(key);
  });
  it('filters by prefix and suffix, suffix case-insensitively', () => {
    const suffixes = ['.jpg', '.png'];
    expect(isTaggable('uploads/a.JPG', 'uploads/', suffixes)).toBe(true);
    expect(isTaggable('uploads/a.txt', 'uploads/', suffixes)).toBe(false);
    expect(isTaggable('other/a.jpg', 'uploads/', suffixes)).toBe(false);
  });
});
