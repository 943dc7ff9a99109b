/**
 * Words people search with -> the label index's terms. The index holds each object under its class
 * labels (labels.json) and, for ImageNet-1k models, its categories' English names
 * (src/classifier/vocabulary.ts). A search word resolves, whatever its letter case, spacing, hyphens,
 * apostrophes, control characters and invisible ones (zero-width spaces, bidi controls: Unicode's
 * default-ignorable code points), through (first match wins, in this order):
 *   category name, class label, colour name (src/classifier/properties.ts: "red", "gray",
 *   "red colour", "红色", "红"), Chinese category name, Chinese class name, category synonyms
 *   (WordNet lemmas and curated words), class lemmas (WordNet), other Chinese names, WordNet
 *   hypernyms that group classes ("terrier": a group, searched as all its index terms at once),
 *   emoji (by their CLDR short name: "🐶" -> "dog");
 * then the same after a simple English plural -> singular ("dogs", "boxes", "puppies", "wolves",
 * "mice"); then, for Chinese, the one term whose Chinese name begins with the word ("金毛" ->
 * 金毛猎犬, golden retriever).
 */
import { COLOUR_NAMES, COLOURS } from '../classifier/properties.ts';
import type { Vocabulary } from '../classifier/vocabulary.ts';
import { colourTerm, type LabelTerm, normalizeLabel } from './label-index.ts';

/** `name`: a taught name (src/tagging/taught-labels.ts), resolved by the image routes, not here. */
export type TermKind = 'category' | 'label' | 'group' | 'colour' | 'name';

export interface SearchTerm {
  /** What the index is searched for (a class label or a category's English name; a group's name). */
  term: LabelTerm;
  kind: TermKind;
  /** The Chinese name, when the vocabulary has one. */
  zh?: string;
  /** A group's index terms (categories and class labels): its objects are those of any of them. */
  anyOf?: LabelTerm[];
}

export interface Suggestion extends SearchTerm {
  /** The word that matched (may be a synonym or a Chinese name). */
  word: string;
}

export interface SearchTerms {
  resolve(word: string): SearchTerm | undefined;
  /** Words that start with `text` (else contain it, else are a typo or two from it), one per term, best first. */
  suggest(text: string, limit?: number): Suggestion[];
  /** The Chinese name of an indexed label or category name, if the vocabulary has one. */
  zhOf(name: string): string | undefined;
}

/**
 * Case, spacing, hyphens, apostrophes and brackets do not matter: "Jack-o'-Lantern" = "jack o lantern";
 * control, format and default-ignorable code points are removed ("d\u200bog", "\u202edog", "dog\0").
 */
export const compactWord = (text: string) =>
  text
    .replace(/[\p{Default_Ignorable_Code_Point}\p{Cc}\p{Cf}]/gu, '')
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\s\-_'’.,()（）/]+/gu, '');

const HAN = /\p{Script=Han}/u;

const IRREGULAR: Record<string, string> = {
  mice: 'mouse',
  geese: 'goose',
  oxen: 'ox',
  teeth: 'tooth',
  feet: 'foot',
  children: 'child',
  men: 'man',
  women: 'woman',
  knives: 'knife',
};

/** Singular candidates of an English word, most likely first (none for a word that is not plural). */
export function singulars(word: string): string[] {
  const w = word.toLowerCase();
  const last = w.split(' ').pop() ?? w;
  const head = w.slice(0, w.length - last.length);
  const out: string[] = [];
  if (IRREGULAR[last]) out.push(IRREGULAR[last]);
  if (/ies$/.test(last)) out.push(`${last.slice(0, -3)}y`);
  if (/ves$/.test(last)) out.push(`${last.slice(0, -3)}f`, `${last.slice(0, -3)}fe`);
  if (/(ch|sh|x|ss|z|o)es$/.test(last)) out.push(last.slice(0, -2));
  if (/[^s]s$/.test(last)) out.push(last.slice(0, -1));
  return out.map((s) => head + s);
}

/** Edits between two words (insert, delete, substitute, swap two neighbours); max + 1 when over max. */
function distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 0; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const up = d[i - 1] as number[];
      row[j] = Math.min(
        (up[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (up[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  return (d[a.length] as number[])[b.length] as number;
}

export function searchTerms(labels: readonly string[], vocabulary?: Vocabulary): SearchTerms {
  const byWord = new Map<string, Suggestion>();
  const words: Suggestion[] = [];
  const add = (word: string, target: SearchTerm) => {
    const key = compactWord(word);
    if (!key || byWord.has(key)) return;
    const entry = { word, ...target };
    byWord.set(key, entry);
    words.push(entry);
  };
  const categories = (vocabulary?.categories ?? []).map((c) => ({
    c,
    target: { term: normalizeLabel(c.en), kind: 'category' as const, zh: c.zh },
  }));
  const classes = labels.map((label, i) => {
    const v = vocabulary?.classes[i];
    return {
      label,
      v,
      target: { term: normalizeLabel(label), kind: 'label' as const, ...(v ? { zh: v.zh } : {}) },
    };
  });
  for (const { c, target } of categories) add(c.en, target);
  for (const { label, target } of classes) add(label, target);
  const colours = COLOUR_NAMES.map((name) => ({
    name,
    target: { term: colourTerm(name), kind: 'colour' as const, zh: COLOURS[name] },
  }));
  for (const { name, target } of colours) {
    add(name, target);
    if (name === 'grey') add('gray', target);
    add(target.zh, target);
    // 红色 -> 红: the colour's own character.
    add(target.zh.replace(/色$/u, ''), target);
    for (const word of ['colour', 'color', 'coloured', 'colored']) add(`${name} ${word}`, target);
  }
  for (const { c, target } of categories) add(c.zh, target);
  for (const { v, target } of classes) if (v) add(v.zh, target);
  for (const { c, target } of categories) for (const s of c.synonyms) add(s, target);
  for (const { v, target } of classes) for (const s of v?.names ?? []) add(s, target);
  for (const { c, target } of categories) for (const s of c.zhSynonyms) add(s, target);
  for (const { v, target } of classes) for (const s of v?.zhSynonyms ?? []) add(s, target);
  const categoryTarget = new Map(categories.map(({ c, target }) => [c.id, target]));
  for (const g of vocabulary?.groups ?? []) {
    const members: SearchTerm[] = [];
    for (const id of g.categories) {
      const t = categoryTarget.get(id);
      if (t) members.push(t);
    }
    for (const i of g.classes) {
      const t = classes[i]?.target;
      if (t) members.push(t);
    }
    const anyOf = [...new Set(members.map((t) => t.term))];
    const name = g.names[0];
    if (anyOf.length === 0 || name === undefined) continue;
    // A group of one term is another name of it ("eagle": the bald eagle, ImageNet's only eagle).
    const target: SearchTerm =
      anyOf.length === 1 ? (members[0] as SearchTerm) : { term: normalizeLabel(name), kind: 'group', anyOf };
    for (const n of g.names) add(n, target);
  }

  const strip = ({ word: _w, ...target }: Suggestion): SearchTerm => target;
  const zh = new Map<string, string>();
  for (const { target } of [...classes, ...categories, ...colours])
    if (target.zh) zh.set(target.term, target.zh);
  const resolve = (word: string): SearchTerm | undefined => {
    const direct = byWord.get(compactWord(word));
    if (direct) return strip(direct);
    for (const s of singulars(normalizeLabel(word))) {
      const hit = byWord.get(compactWord(s));
      if (hit) return strip(hit);
    }
    const q = compactWord(word);
    if (HAN.test(q) && Array.from(q).length >= 2) {
      const begins = new Map<string, Suggestion>();
      for (const w of words) if (HAN.test(w.word) && compactWord(w.word).startsWith(q)) begins.set(w.term, w);
      if (begins.size === 1) return strip([...begins.values()][0] as Suggestion);
    }
    return undefined;
  };
  for (const [emoji, word] of Object.entries(vocabulary?.emoji ?? {})) {
    const target = resolve(word);
    if (target) add(emoji, target);
  }
  return {
    zhOf: (name) => zh.get(normalizeLabel(name)),
    resolve,
    suggest(text, limit = 8) {
      const q = compactWord(text);
      if (!q) return [];
      const ranked: { s: Suggestion; rank: number }[] = [];
      for (const s of words) {
        const k = compactWord(s.word);
        // Names holding the word ("Afghan Hound" for "hound") before typos: one edit in a short
        // word, two in a longer one.
        const max = q.length >= 5 ? 2 : q.length >= 3 ? 1 : 0;
        const rank = k.startsWith(q) ? 0 : k.includes(q) ? 1 : max > 0 && distance(q, k, max) <= max ? 2 : -1;
        if (rank >= 0) ranked.push({ s, rank });
      }
      ranked.sort((a, b) => a.rank - b.rank);
      const seen = new Set<string>();
      const out: Suggestion[] = [];
      for (const { s } of ranked) {
        if (seen.has(s.term)) continue;
        seen.add(s.term);
        out.push(s);
        if (out.length >= limit) break;
      }
      return out;
    },
  };
}
