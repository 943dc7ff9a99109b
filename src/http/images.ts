/**
 * The image routes of the HTTP API: search the label index, read one object's tags, and hand out a
 * presigned S3 POST so that a browser uploads straight to the bucket (any size up to the image
 * limit, past API Gateway's and Lambda's payload limits).
 *
 *   GET  /images?label=<word>&limit=1..100&cursor=    {items: [{key, score, top, labels, categories?, url}],
 *                                                     cursor?, resolved?: {term, kind, zh?, anyOf?}, suggestions?}
 *        the word is resolved to a class label or category (src/tagging/search-terms.ts: any case and
 *        spacing, WordNet synonyms, plurals, Chinese); a word that matches nothing and finds nothing
 *        answers 200 with no items and a few suggestions
 *   GET  /images?suggest=<text>                        {suggestions: [{word, term, kind, zh?}]} (as one types)
 *   GET  /image?key=<key, URL-encoded>                 {key, status, top?, labels, categories?, colours?, model?, tags,
 *                                                     url, from?}
 *        labels, categories and colours (here and in search items) carry their Chinese name `zh` when
 *        the model's vocabulary (or the colour list) has one
 *   POST /uploads {filename, contentType?, size?, tagging?}  {key, url, fields, expiresAt, maxBytes}
 * With a vector index (VECTOR_BUCKET, VECTOR_INDEX), by the classifier's embedding
 * (docs/similar-and-duplicates.md):
 *   GET  /image/similar?key=<key>&limit=1..50&label=<word>&copies=all   {key, items: [{key, similarity, top,
 *        labels, categories, url, tier?}], copies, resolved?}: the nearest stored images, itself and its
 *        copies (as GET /image/duplicates finds them) excluded, best first; `copies` says how many copies
 *        were left out; a neighbour's copies among the others are folded into it (`copies`, `copyKeys`); `copies=all` keeps them in, each with its tier; label= keeps those showing the
 *        word (resolved as search resolves it)
 *   GET  /image/duplicates?key=<key>                   {key, items: [{key, tier: exact|near, similarity, url}]}:
 *        copies of the image: the same bytes (SHA-256), or the same photo edited (similarity at or above
 *        NEAR_DUPLICATE_SIMILARITY); one query of the vector index, no scan
 *   GET  /duplicates?limit=1..50&cursor=              {groups: [{id, items: [{key, tier, similarity, url, top?, zh?}],
 *        size}], cursor?}: the groups of copies the tagger recorded (src/tagging/duplicates.ts), newest
 *        first, each member oldest first (the first is the representative; tier and similarity are to it)
 * Search collapses copies: an item that has copies among the results carries `copies` and `copyKeys`,
 * and the copies are not listed apart (collapseCopies); `&copies=all` lists every image.
 *
 * Each handler answers an HttpError for bad input (400, 404, 413, 415), which the API turns into
 * its JSON error shape; anything else is thrown (500).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { contentTypeOf } from '../classifier/image-formats.ts';
import { COLOURS, type ColourName } from '../classifier/properties.ts';
import type { Vocabulary } from '../classifier/vocabulary.ts';
import { COPY_KEYS, collapseCopies, describeGroups, termsOf } from '../tagging/duplicates.ts';
import {
  type IndexedLabel,
  InvalidCursorError,
  type LabelIndex,
  legacyNormalizeLabel,
  nameTerm,
  normalizeLabel,
  type SearchItem,
} from '../tagging/label-index.ts';
import { ObjectChangedError, ObjectMissingError, type ObjectStore } from '../tagging/object-store.ts';
import { compactWord, type SearchTerm, type SearchTerms, searchTerms } from '../tagging/search-terms.ts';
import { type DuplicateTier, NEAR_DUPLICATE_SIMILARITY } from '../tagging/similarity.ts';
import {
  formatLabelList,
  isTaggable,
  MAX_KEY_CHARS,
  MAX_TAGS,
  MAX_VALUE_CHARS,
  parseLabelList,
  S3_TAG_TEXT,
  SERVICE_TAG_PRIORITY,
  sanitizeTagValue,
  TAG_CATEGORIES,
  TAG_COLOURS,
  TAG_LABELS,
  TAG_MODEL,
  TAG_NAMES,
  TAG_PREFIX,
  TAG_STATUS,
  TAG_TOP,
  type Tag,
} from '../tagging/tags.ts';
import { RASTER_TYPES, type UploadSigner } from '../tagging/upload-signer.ts';
import {
  VECTOR_LIMITS,
  type VectorFilter,
  type VectorIndex,
  type VectorMatch,
} from '../tagging/vector-index.ts';
import { bodyBytes } from './body.ts';

export interface ImageRoutesConfig {
  /** The upload bucket (the one the tagger tags and the index describes). */
  bucket: string;
  /** Key prefix of uploads (UPLOAD_PREFIX): new keys go under it, only keys under it are read. */
  prefix: string;
  /** The groups of copies (copyGroups...) are optional: without them search lists every copy and GET /duplicates answers 404. */
  index: Pick<LabelIndex, 'search' | 'get'> &
    Partial<Pick<LabelIndex, 'copyGroupsOf' | 'copyGroup' | 'copyGroups'>>;
  store: Pick<ObjectStore, 'getTags' | 'get'>;
  signer: UploadSigner;
  /** The suffixes the tagger reads (IMAGE_SUFFIXES). */
  suffixes: readonly string[];
  /** The served model's vector index: similar images and duplicates (absent: those routes answer 404). */
  vectors?: Pick<VectorIndex, 'get' | 'query'>;
  /**
   * The taught names of the bucket (src/tagging/taught-labels.ts): search resolves a word that is no
   * vocabulary word to the name's term (nameTerm) when it is one. `list`: every name (normalised;
   * cached, TAUGHT_LABELS_TTL_MS); `has`: one name, read now (label= asks it when the cached list
   * does not know the word, so a name taught on another container is found at once; q= for words
   * nothing else resolves, at most MAX_NAME_READS a search).
   */
  names?: { list(): Promise<readonly string[]>; has(name: string): Promise<boolean> };
}

/** The ports the image routes use (src/handlers/image-ports.ts makes the AWS ones, src/handlers/lazy-ports.ts on first use). */
export type ImagePorts = Pick<ImageRoutesConfig, 'index' | 'store' | 'signer' | 'vectors'>;

export const SEARCH_DEFAULT_LIMIT = 24;
export const SEARCH_MAX_LIMIT = 100;
/** Longer than any label a model has; a longer search term is a mistake or an attack. */
export const MAX_LABEL_CHARS = 200;
export const MAX_CURSOR_CHARS = 2048;
/** S3's own limit on key length (UTF-8 bytes). */
export const MAX_KEY_BYTES = 1024;
/** Characters kept from the file name's stem in a new key. */
export const MAX_NAME_CHARS = 100;
export const UPLOAD_EXPIRES_SECONDS = 300;
/** Presigned GET of a thumbnail or of the object (the page reloads search results to refresh them). */
export const VIEW_EXPIRES_SECONDS = 900;
/** The JSON body of POST /uploads describes a file; it is never large. */
export const MAX_UPLOAD_REQUEST_BYTES = 8 * 1024;
/** Neighbours of GET /image/similar and POST /similar. */
export const SIMILAR_DEFAULT_LIMIT = 12;
export const SIMILAR_MAX_LIMIT = 50;
/** Groups per page of GET /duplicates. */
export const GROUPS_DEFAULT_LIMIT = 20;
export const GROUPS_MAX_LIMIT = 50;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const invalid = (message: string) => new HttpError(400, 'InvalidArgument', message);

/** The raster type a key's suffix names (any case), or undefined. */
export function rasterTypeOfKey(key: string): string | undefined {
  const lower = key.toLowerCase();
  return contentTypeOf(lower.slice(lower.lastIndexOf('.')));
}

/**
 * How a presigned GET serves an object (see viewResponse in src/aws/upload-signer.ts): the raster type
 * of its suffix, unless the tagger found it is not a decodable image (then a download).
 */
function viewType(key: string, status: string | undefined): string | undefined {
  return status === undefined || status === 'ok' ? rasterTypeOfKey(key) : undefined;
}

/**
 * A file name made safe for a key: the last path segment, accents dropped, anything but letters and
 * digits (of any script: `猫.webp` stays), '.', '_' and '-' turned into '-', the stem cut to
 * MAX_NAME_CHARS; the suffix is kept (lower-cased) so the tagger sees it. `photo (1).JPG` -> `photo-1.jpg`.
 */
export function sanitizeFilename(name: string): string {
  const base = name.split(/[/\\]/).pop() ?? '';
  const ascii = base
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[^\p{L}\p{N}._-]+/gu, '-');
  const dot = ascii.lastIndexOf('.');
  const rawStem = dot > 0 ? ascii.slice(0, dot) : dot === 0 ? '' : ascii;
  const suffix = dot >= 0 ? ascii.slice(dot).toLowerCase() : '';
  const stem = rawStem
    .replace(/\.+/g, '.')
    .replace(/-+/g, '-')
    .replace(/^[.-]+|[.-]+$/g, '')
    .slice(0, MAX_NAME_CHARS)
    .replace(/[.-]+$/, '');
  return `${stem || 'image'}${suffix.replace(/[^a-z0-9.]/g, '')}`;
}

/** Whole decimal digits only ("10", not "1e1", " 10" or "10.0"). */
function parseLimit(
  raw: string | undefined,
  fallback = SEARCH_DEFAULT_LIMIT,
  max = SEARCH_MAX_LIMIT,
): number {
  if (raw === undefined || raw === '') return fallback;
  const n = /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw invalid(`limit must be an integer from 1 to ${max}, got "${raw.slice(0, 20)}"`);
  return n;
}

/** The vector filter that keeps images showing a resolved search word (labels and categories are stored normalised). */
function filterOf(term: SearchTerm | undefined, label: string): VectorFilter {
  if (term?.kind === 'label') return { labels: { $eq: term.term } };
  if (term?.kind === 'category') return { categories: { $eq: term.term } };
  const anyOf = term?.anyOf ?? [term?.term ?? label];
  return { $or: [{ labels: { $in: anyOf } }, { categories: { $in: anyOf } }] };
}

/**
 * The key of GET /image?key=<key>, from the raw query string, decoded once. A key is never taken
 * from the path: API Gateway HTTP APIs hand Lambda `rawPath` already decoded and cut at a decoded
 * `?` (so a key holding `%41`, `?` or `#` would name another object, or none), while
 * serverless-offline passes it still encoded. `rawQueryString` arrives encoded on both, so a key
 * names itself only. The page encodes it with URLSearchParams (`+` for a space, `%2B` for a plus).
 */
export function keyParam(event: Pick<APIGatewayProxyEventV2, 'rawQueryString'>): string {
  const key = new URLSearchParams(event.rawQueryString ?? '').get('key');
  if (key === null || key === '') throw invalid('key is required: GET /image?key=<URL-encoded key>');
  return key;
}

/** The tags a user may send with an upload: what S3 allows, less the slots the tagger's own tags take. */
export const MAX_USER_TAGS = MAX_TAGS - SERVICE_TAG_PRIORITY.length;

/**
 * The `tagging` of POST /uploads: an object of tag keys to string values, stored with the object
 * by the upload itself. S3's rules (keys 1..128 characters, values up to 256, letters, digits,
 * spaces and `_ . : / = + - @`), at most MAX_USER_TAGS, and no `tagger:` (the service's) or
 * `aws:` (reserved) keys.
 */
export function parseUploadTagging(raw: unknown): Tag[] {
  if (raw === undefined || raw === null) return [];
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw invalid('tagging must be an object of tag keys to string values, e.g. {"album": "holiday"}');
  const entries = Object.entries(raw);
  if (entries.length > MAX_USER_TAGS)
    throw invalid(
      `tagging has ${entries.length} tags; at most ${MAX_USER_TAGS} (the tagger keeps ${SERVICE_TAG_PRIORITY.length} of the ${MAX_TAGS} S3 allows)`,
    );
  return entries.map(([key, value]) => {
    const name = JSON.stringify(key.slice(0, 40));
    if (typeof value !== 'string') throw invalid(`tagging ${name}: the value must be a string`);
    const chars = (text: string) => Array.from(text).length;
    if (chars(key) < 1 || chars(key) > MAX_KEY_CHARS)
      throw invalid(`tagging ${name}: a key has 1 to ${MAX_KEY_CHARS} characters`);
    if (chars(value) > MAX_VALUE_CHARS)
      throw invalid(`tagging ${name}: a value has at most ${MAX_VALUE_CHARS} characters`);
    if (!S3_TAG_TEXT.test(key) || !S3_TAG_TEXT.test(value))
      throw invalid(`tagging ${name}: only letters, digits, spaces and _ . : / = + - @ are allowed`);
    const lower = key.toLowerCase();
    if (lower.startsWith(TAG_PREFIX) || lower.startsWith('aws:'))
      throw invalid(`tagging ${name}: keys starting with "${TAG_PREFIX}" or "aws:" are reserved`);
    return { Key: key, Value: value };
  });
}

/**
 * The model's labels by their normalised form, for the labels whose legacy index form differs
 * (e.g. "jack-o-lantern" -> ["jack-o'-lantern"]): a search by the tag form then also reads the
 * partition objects indexed before were written to (legacyNormalizeLabel).
 */
export function legacySpellings(modelLabels: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const label of modelLabels) {
    const form = normalizeLabel(label);
    if (legacyNormalizeLabel(label) !== form) out.set(form, [...(out.get(form) ?? []), label]);
  }
  return out;
}

/** GET /images?q=: the longest run of words read as one term, the terms at once, the rows read per term. */
export const MAX_PHRASE_WORDS = 4;
export const MAX_QUERY_TERMS = 6;
export const MAX_TERM_ROWS = 500;
/** GET /images?q=: names read one by one (names.has) for words neither the vocabulary nor the cached names know. */
export const MAX_NAME_READS = 8;

const HAN = /\p{Script=Han}/u;
/** Particles left out between Chinese search words ("红色的车" = 红色 车). */
const ZH_PARTICLES = new Set(['的', '和', '与', '及', '之', '在', '是']);

/**
 * A Chinese run written without spaces ("红色汽车") split into the longest words the vocabulary
 * knows, left to right, particles dropped; a word that resolves as it is, or that cannot be split
 * wholly into known words, is kept whole.
 */
export function segmentChinese(word: string, lookup: Pick<SearchTerms, 'resolve'>): string[] {
  if (!HAN.test(word) || lookup.resolve(word)) return [word];
  const chars = Array.from(word);
  const out: string[] = [];
  for (let i = 0; i < chars.length; ) {
    let j = chars.length;
    while (j > i && !lookup.resolve(chars.slice(i, j).join(''))) j--;
    if (j === i) {
      if (!ZH_PARTICLES.has(chars[i] as string)) return [word];
      i++;
      continue;
    }
    out.push(chars.slice(i, j).join(''));
    i = j;
  }
  return out.length > 0 ? out : [word];
}

/** The cursor of a q= search: the offset into its ranked intersection, bound to the words asked. */
function encodeOffset(offset: number, q: string): string {
  return Buffer.from(
    JSON.stringify({ o: offset, q: createHash('sha256').update(q).digest('base64url').slice(0, 16) }),
  ).toString('base64url');
}
function decodeOffset(cursor: string, q: string): number {
  if (cursor.length > MAX_CURSOR_CHARS) throw invalid('cursor is not one this API returned');
  try {
    const { o } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { o?: unknown };
    if (
      typeof o === 'number' &&
      Number.isInteger(o) &&
      o > 0 &&
      o < MAX_TERM_ROWS &&
      encodeOffset(o, q) === cursor
    )
      return o;
  } catch {}
  throw invalid('cursor is not one this API returned (for these words)');
}

/** Suggestions answered while one types, and with a search that found nothing. */
export const MAX_SUGGESTIONS = 8;
const NO_MATCH_SUGGESTIONS = 5;

/**
 * `folder` (the served model's labels and vocabulary) gives the legacy spellings to read
 * (legacySpellings) and the search words, built here on the first search, not at init; without it,
 * labels match exactly.
 */
export function createImageRoutes(
  config: ImageRoutesConfig,
  maxBytes: number,
  folder?: { labels: readonly string[]; vocabulary?: Vocabulary },
) {
  let built: SearchTerms | undefined;
  const terms = folder && (() => (built ??= searchTerms(folder.labels, folder.vocabulary)));
  const { bucket, prefix, suffixes, index, store, signer } = config;
  const spellingsOf = legacySpellings(folder?.labels ?? []);

  function checkKey(key: string): void {
    if (key === '') throw invalid('the key is empty');
    if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES)
      throw invalid(`the key is over ${MAX_KEY_BYTES} bytes`);
    if (!key.startsWith(prefix) || key.length === prefix.length)
      throw invalid(`only keys under "${prefix}" can be read`);
    if (key.split('/').some((s) => s === '..' || s === '.'))
      throw invalid('the key contains a "." or ".." segment');
  }

  /** A label or category with its Chinese name (the page's 中文 view), when the vocabulary has one. */
  const withZh = <T extends { label: string }>(l: T): T & { zh?: string } => {
    const zh = terms?.().zhOf(l.label);
    return zh ? { ...l, zh } : l;
  };
  /** A dominant colour with its Chinese name (its label is English, or Chinese with TAG_LANGUAGE=zh). */
  const colourZh = <T extends { label: string }>(c: T): T & { zh?: string } => {
    const zh = Object.hasOwn(COLOURS, c.label) ? COLOURS[c.label as ColourName] : undefined;
    return zh ? { ...c, zh } : c;
  };

  /** One resolved search term's index query options (the word as typed finds legacy partitions). */
  const queryOf = (raw: string, resolved: SearchTerm | undefined) => {
    const term = resolved?.term ?? normalizeLabel(raw);
    // (A colour's and a taught name's partitions are new: none holds an older spelling.)
    const spellings =
      resolved?.kind === 'colour' || resolved?.kind === 'name' ? [] : [raw, ...(spellingsOf.get(term) ?? [])];
    return { term, spellings, ...(resolved?.anyOf ? { anyOf: resolved.anyOf } : {}) };
  };

  const itemOf = async (item: SearchItem, score = item.score) => ({
    key: item.key,
    score,
    top: item.top,
    labels: item.labels.map(withZh),
    ...(item.categories ? { categories: item.categories.map(withZh) } : {}),
    ...(item.colours ? { colours: item.colours.map(colourZh) } : {}),
    ...(item.names ? { names: item.names } : {}),
    url: await signer.presignGet(item.key, VIEW_EXPIRES_SECONDS, viewType(item.key, 'ok')),
  });

  /**
   * Resolves a word as search does: the vocabulary first (a taught name is never one of its words),
   * then the taught names: the cached list (read once per search), and the names `taught` adds
   * (read one by one since: taught on another container).
   */
  async function resolver() {
    const lookup = terms?.();
    const names = new Set(config.names ? await config.names.list() : []);
    return {
      taught: (name: string) => void names.add(name),
      resolve: (word: string): SearchTerm | undefined => {
        const hit = lookup?.resolve(word);
        if (hit) return hit;
        const name = normalizeLabel(word);
        return names.has(name) ? { term: nameTerm(name), kind: 'name' } : undefined;
      },
    };
  }

  /**
   * GET /images?q=<words>: the pictures every word finds (labels, categories, groups, colours, in
   * English or Chinese), best first by the geometric mean of the words' scores, paged. Words are
   * read left to right, the longest run of up to MAX_PHRASE_WORDS that names one term first ("golden
   * retriever" is one term, "red golden retriever" two); a colour that is also a class ("orange")
   * is the colour when other words come with it. Each term's best MAX_TERM_ROWS pictures are
   * intersected (`partial` says when a term had more).
   */
  async function searchWords(
    raw: string,
    limitRaw: string | undefined,
    cursorRaw: string | undefined,
    collapse: boolean,
  ) {
    if (Array.from(raw).length > MAX_LABEL_CHARS) throw invalid(`q is over ${MAX_LABEL_CHARS} characters`);
    const suggester = terms?.();
    const lookup = await resolver();
    // A name taught on another container since this one cached the list is read one by one, only
    // for words nothing else knows, and at most MAX_NAME_READS times a search.
    let reads = 0;
    const isUnlistedName = async (run: string): Promise<boolean> => {
      const name = normalizeLabel(run);
      if (!config.names || name === '' || reads >= MAX_NAME_READS) return false;
      reads++;
      if (!(await config.names.has(name))) return false;
      lookup.taught(name);
      return true;
    };
    const words: string[] = [];
    for (const w of raw.split(/[\s,，、;+]+/u).filter((w) => compactWord(w) !== '')) {
      // A Chinese name is read whole before it is split into vocabulary words ("红色的车" may be one).
      if (HAN.test(w) && !lookup.resolve(w) && (await isUnlistedName(w))) words.push(w);
      else words.push(...segmentChinese(w, lookup));
    }
    if (words.length === 0) throw invalid('q is empty');
    const limit = parseLimit(limitRaw);
    const offset = cursorRaw === undefined || cursorRaw === '' ? 0 : decodeOffset(cursorRaw, raw);
    const parts: { word: string; resolved?: SearchTerm }[] = [];
    for (let i = 0; i < words.length; ) {
      let taken = 1;
      let resolved: SearchTerm | undefined;
      const longest = Math.min(MAX_PHRASE_WORDS, words.length - i);
      for (let n = longest; n >= 1 && !resolved; n--) {
        const hit = lookup.resolve(words.slice(i, i + n).join(' '));
        if (hit) [taken, resolved] = [n, hit];
      }
      for (let n = longest; n >= 1 && !resolved; n--) {
        const run = words.slice(i, i + n).join(' ');
        if (await isUnlistedName(run)) [taken, resolved] = [n, lookup.resolve(run)];
      }
      const word = words.slice(i, i + taken).join(' ');
      if (resolved && resolved.kind !== 'colour' && words.length > 1) {
        const colour = lookup.resolve(`${word} colour`);
        if (colour?.kind === 'colour') resolved = colour;
      }
      parts.push({ word, ...(resolved ? { resolved } : {}) });
      i += taken;
    }
    const unique = [
      ...new Map(
        parts.map((p) => ({ ...p, query: queryOf(p.word, p.resolved) })).map((p) => [p.query.term, p]),
      ).values(),
    ];
    // Words that name one thing ("golden retriever", "红色的") are searched as label= is: full paging.
    if (unique.length === 1 && parts.length === 1)
      return searchLabel((unique[0] as { word: string }).word, limitRaw, cursorRaw, collapse);
    if (unique.length > MAX_QUERY_TERMS)
      throw invalid(`q names ${unique.length} things; at most ${MAX_QUERY_TERMS} at once`);
    let partial = false;
    const found = await Promise.all(
      unique.map(async ({ query }) => {
        const rows = new Map<string, SearchItem>();
        let cursor: string | undefined;
        for (let page = 0; page * SEARCH_MAX_LIMIT < MAX_TERM_ROWS; page++) {
          const out = await index.search(bucket, query.term, { ...query, limit: SEARCH_MAX_LIMIT, cursor });
          for (const item of out.items) if (!rows.has(item.key)) rows.set(item.key, item);
          cursor = out.cursor;
          if (!cursor) break;
        }
        if (cursor) partial = true;
        return rows;
      }),
    );
    const [first, ...rest] = found as [Map<string, SearchItem>, ...Map<string, SearchItem>[]];
    const hits = [...first.values()]
      .filter((item) => rest.every((rows) => rows.has(item.key)))
      .map((item) => ({
        item,
        score: Math.exp(
          found.reduce((sum, rows) => sum + Math.log(Math.max(rows.get(item.key)?.score ?? 0, 1e-9)), 0) /
            found.length,
        ),
      }))
      .sort((a, b) => b.score - a.score || (a.item.key < b.item.key ? -1 : a.item.key > b.item.key ? 1 : 0));
    const page = hits.slice(offset, offset + limit);
    const hitKeys = new Set(hits.map((h) => h.item.key));
    const shown = collapse
      ? await collapsed(
          page.map((h) => ({ ...h, key: h.item.key })),
          async (key) => hitKeys.has(key),
        )
      : page;
    const items = await Promise.all(shown.map((h) => withCopies(itemOf(h.item, h.score), h)));
    const unresolved = unique.filter((p) => !p.resolved).map((p) => p.word);
    return {
      items,
      ...(offset + limit < hits.length ? { cursor: encodeOffset(offset + limit, raw) } : {}),
      resolved: unique.map((p) =>
        p.resolved ? { word: p.word, ...p.resolved } : { word: p.word, term: p.query.term },
      ),
      ...(partial ? { partial: true } : {}),
      ...(unresolved.length > 0 && items.length === 0 && offset === 0 && suggester
        ? { suggestions: unresolved.flatMap((w) => suggester.suggest(w, NO_MATCH_SUGGESTIONS)) }
        : {}),
    };
  }

  async function search(event: APIGatewayProxyEventV2) {
    const q = event.queryStringParameters ?? {};
    if (q.copies !== undefined && q.copies !== 'all' && q.copies !== 'collapse')
      throw invalid('copies is "collapse" (the default: copies of one photo listed once) or "all"');
    const collapse = q.copies !== 'all';
    if (q.q !== undefined && q.label === undefined) return searchWords(q.q, q.limit, q.cursor, collapse);
    if (q.suggest !== undefined && q.label === undefined) {
      if (Array.from(q.suggest).length > MAX_LABEL_CHARS)
        throw invalid(`suggest is over ${MAX_LABEL_CHARS} characters`);
      const typed = normalizeLabel(q.suggest);
      const taught =
        typed && config.names
          ? (await config.names.list())
              .filter((name) => name.startsWith(typed))
              .map((name) => ({ word: name, term: nameTerm(name), kind: 'name' as const }))
          : [];
      return {
        suggestions: [...taught, ...(terms?.().suggest(q.suggest, MAX_SUGGESTIONS) ?? [])].slice(
          0,
          MAX_SUGGESTIONS,
        ),
      };
    }
    if (q.label === undefined) throw invalid('label is required: GET /images?label=<label> (or q=<words>)');
    return searchLabel(q.label, q.limit, q.cursor, collapse);
  }

  /** collapseCopies with this bucket's index; the items as they are without groups of copies. */
  async function collapsed<T extends { key: string }>(items: T[], finds: (key: string) => Promise<boolean>) {
    const { copyGroupsOf, copyGroup } = index;
    if (!copyGroupsOf || !copyGroup || items.length === 0) return items;
    return collapseCopies(
      { copyGroupsOf: copyGroupsOf.bind(index), copyGroup: copyGroup.bind(index) },
      bucket,
      items,
      finds,
    );
  }

  /** A search item with the copies collapseCopies found for it. */
  const withCopies = async <T>(item: Promise<T>, collapsedItem: object) => {
    const c = collapsedItem as { copies?: number; copyKeys?: string[] };
    return { ...(await item), ...(c.copies ? { copies: c.copies, copyKeys: c.copyKeys ?? [] } : {}) };
  };

  /** GET /images?label=<word>, and a q= whose words name one thing. */
  async function searchLabel(
    raw: string,
    limitRaw: string | undefined,
    cursorRaw: string | undefined,
    collapse: boolean,
  ) {
    const q = { limit: limitRaw, cursor: cursorRaw };
    const label = normalizeLabel(raw);
    if (Math.max(Array.from(label).length, Array.from(legacyNormalizeLabel(raw)).length) > MAX_LABEL_CHARS)
      throw invalid(`label is over ${MAX_LABEL_CHARS} characters`);
    const resolved =
      (await resolver()).resolve(raw) ??
      (label !== '' && (await config.names?.has(label))
        ? { term: nameTerm(label), kind: 'name' as const }
        : undefined);
    if (label === '' && !resolved) {
      // Only spaces and invisible characters: nothing was asked. Anything else (an emoji the
      // vocabulary does not know, punctuation) is a word that finds nothing.
      if (compactWord(raw) === '') throw invalid('label is empty');
      return { items: [], suggestions: terms?.().suggest(raw, NO_MATCH_SUGGESTIONS) ?? [] };
    }
    const term = resolved?.term ?? label;
    const limit = parseLimit(q.limit);
    const cursor = q.cursor === undefined || q.cursor === '' ? undefined : q.cursor;
    if (cursor !== undefined && cursor.length > MAX_CURSOR_CHARS)
      throw invalid('cursor is not one this API returned');
    let page: Awaited<ReturnType<LabelIndex['search']>>;
    try {
      // The word as typed and the model's own spelling find what was indexed under them before.
      page = await index.search(bucket, term, { ...queryOf(raw, resolved), limit, cursor });
    } catch (err) {
      if (err instanceof InvalidCursorError) throw invalid(err.message);
      throw err;
    }
    // A member of a group not on this page is found when its record holds the term (or one of the group's).
    const searched = new Set<string>([term, ...(resolved?.anyOf ?? [])]);
    const shown = collapse
      ? await collapsed(page.items, async (key) => {
          const o = await index.get(bucket, key);
          return o?.state === 'live' && [...termsOf(o)].some((t) => searched.has(t));
        })
      : page.items;
    const items = await Promise.all(shown.map((item) => withCopies(itemOf(item), item)));
    // A class that is also a colour's name ("orange", the fruit) and finds nothing: the colour.
    const colourWord = resolved?.kind === 'label' ? `${resolved.term} colour` : undefined;
    const colour = colourWord === undefined ? undefined : terms?.().resolve(colourWord);
    const suggestions =
      items.length > 0 || cursor !== undefined || !terms
        ? {}
        : !resolved
          ? { suggestions: terms().suggest(raw, NO_MATCH_SUGGESTIONS) }
          : colour?.kind === 'colour'
            ? { suggestions: [{ word: colourWord, ...colour }] }
            : {};
    return {
      items,
      ...(page.cursor === undefined ? {} : { cursor: page.cursor }),
      ...(resolved ? { resolved } : {}),
      ...suggestions,
    };
  }

  function vectorIndex() {
    if (!config.vectors)
      throw new HttpError(404, 'NotFound', 'similar images need the vector index (VECTOR_INDEX)');
    return config.vectors;
  }

  /** The stored vector of a key, or 404. */
  async function storedVector(key: string) {
    checkKey(key);
    const [stored] = await vectorIndex().get([key]);
    if (!stored)
      throw new HttpError(
        404,
        'NotFound',
        `no embedding of ${key}: not uploaded, not tagged yet, or not an image the classifier could read`,
      );
    return stored;
  }

  /** A neighbour as the routes answer it. */
  const neighbour = async (m: VectorMatch) => {
    const labels = (m.metadata.labels ?? []).map((label) => withZh({ label }));
    const categories = (m.metadata.categories ?? []).map((label) => withZh({ label }));
    return {
      key: m.key,
      similarity: Number(m.similarity.toFixed(4)),
      ...(labels[0] ? { top: labels[0].label } : {}),
      labels,
      categories,
      url: await signer.presignGet(m.key, VIEW_EXPIRES_SECONDS, viewType(m.key, 'ok')),
    };
  };

  /** How a neighbour relates to an image: the same bytes, the same photo edited, or neither (undefined). */
  const tierOf = (m: VectorMatch, sha256: string | undefined): DuplicateTier | undefined =>
    sha256 !== undefined && m.metadata.sha256 === sha256
      ? 'exact'
      : m.similarity >= NEAR_DUPLICATE_SIMILARITY
        ? 'near'
        : undefined;

  /**
   * The images nearest `vector`, best first; `q.label` keeps those that show the word, `q.limit`
   * (1..SIMILAR_MAX_LIMIT) says how many. Shared by GET /image/similar (`of`: the stored image, left
   * out with its copies unless `q.copies` is "all") and POST /similar (nothing left out).
   */
  async function similarTo(
    vector: Float32Array,
    q: { limit?: string; label?: string; copies?: string },
    of?: { key: string; sha256?: string },
  ) {
    const limit = parseLimit(q.limit, SIMILAR_DEFAULT_LIMIT, SIMILAR_MAX_LIMIT);
    if (q.copies !== undefined && q.copies !== 'all' && q.copies !== 'exclude')
      throw invalid('copies is "exclude" (the default: the image\'s copies left out) or "all"');
    const withCopies = of === undefined || q.copies === 'all';
    let filter: VectorFilter | undefined;
    let resolved: SearchTerm | undefined;
    if (q.label !== undefined && q.label !== '') {
      const label = normalizeLabel(q.label);
      if (Array.from(label).length > MAX_LABEL_CHARS)
        throw invalid(`label is over ${MAX_LABEL_CHARS} characters`);
      resolved = terms?.().resolve(q.label);
      if (label === '' && !resolved) throw invalid('label is empty');
      filter = filterOf(resolved, label);
    }
    // Copies are the nearest of all: leaving them out asks for as many neighbours as a query gives.
    const topK = withCopies
      ? Math.min(VECTOR_LIMITS.maxTopK, limit + (of === undefined ? 0 : 1))
      : VECTOR_LIMITS.maxTopK;
    const matches = (await vectorIndex().query(vector, { topK, ...(filter ? { filter } : {}) })).filter(
      (m) => m.key !== of?.key,
    );
    const tiered = matches.map((m) => ({ m, tier: of ? tierOf(m, of.sha256) : undefined }));
    const kept = withCopies ? tiered : tiered.filter((n) => n.tier === undefined);
    const shown: ((typeof kept)[number] & { copyKeys?: string[] })[] = withCopies
      ? kept
      : await oneOfEachGroup(kept);
    const items = await Promise.all(
      shown.slice(0, limit).map(async ({ m, tier, copyKeys }) => ({
        ...(await neighbour(m)),
        ...(tier ? { tier } : {}),
        ...(copyKeys?.length ? { copies: copyKeys.length, copyKeys: copyKeys.slice(0, COPY_KEYS) } : {}),
      })),
    );
    return {
      items,
      ...(withCopies ? {} : { copies: tiered.length - kept.length }),
      ...(resolved ? { resolved } : {}),
    };
  }

  /**
   * Neighbours with a copy among the more similar ones (the same group of copies in the label index)
   * are folded into the first of their group, which lists them (`copyKeys`): one photo shown once.
   */
  async function oneOfEachGroup<T extends { m: VectorMatch }>(list: T[]) {
    const { copyGroupsOf } = index;
    if (!copyGroupsOf || list.length === 0) return list as (T & { copyKeys?: string[] })[];
    const groupOf = await copyGroupsOf.call(
      index,
      bucket,
      list.map((n) => n.m.key),
    );
    const firstOf = new Map<string, { copyKeys: string[] }>();
    const out: (T & { copyKeys?: string[] })[] = [];
    for (const n of list) {
      const group = groupOf.get(n.m.key);
      const first = group === undefined ? undefined : firstOf.get(group);
      if (first) {
        first.copyKeys.push(n.m.key);
        continue;
      }
      const item = { ...n, copyKeys: [] as string[] };
      if (group !== undefined) firstOf.set(group, item);
      out.push(item);
    }
    return out;
  }

  async function similar(event: APIGatewayProxyEventV2) {
    const key = keyParam(event);
    const stored = await storedVector(key);
    const of = { key, ...(stored.metadata.sha256 ? { sha256: stored.metadata.sha256 } : {}) };
    return { key, ...(await similarTo(stored.vector, event.queryStringParameters ?? {}, of)) };
  }

  /** Copies of an image: the same bytes first, then the same photo edited, most similar first. */
  async function duplicates(event: APIGatewayProxyEventV2) {
    const key = keyParam(event);
    const stored = await storedVector(key);
    const sha256 = stored.metadata.sha256;
    const matches = await vectorIndex().query(stored.vector, { topK: VECTOR_LIMITS.maxTopK });
    const copies = matches
      .filter((m) => m.key !== key)
      .map((m) => ({ m, tier: tierOf(m, sha256) }))
      .filter((c): c is { m: VectorMatch; tier: DuplicateTier } => c.tier !== undefined)
      .sort((a, b) => (a.tier === b.tier ? b.m.similarity - a.m.similarity : a.tier === 'exact' ? -1 : 1));
    const items = await Promise.all(
      copies.map(async ({ m, tier }) => ({
        key: m.key,
        tier,
        similarity: Number(m.similarity.toFixed(4)),
        url: await signer.presignGet(m.key, VIEW_EXPIRES_SECONDS, viewType(m.key, 'ok')),
      })),
    );
    return { key, items };
  }

  /** GET /duplicates: the groups of copies, newest first, each member oldest first. */
  async function groups(event: APIGatewayProxyEventV2) {
    const q = event.queryStringParameters ?? {};
    const vectors = vectorIndex();
    const { copyGroups } = index;
    if (!copyGroups) throw new HttpError(404, 'NotFound', 'this label index records no groups of copies');
    const limit = parseLimit(q.limit, GROUPS_DEFAULT_LIMIT, GROUPS_MAX_LIMIT);
    const cursor = q.cursor === undefined || q.cursor === '' ? undefined : q.cursor;
    if (cursor !== undefined && cursor.length > MAX_CURSOR_CHARS)
      throw new HttpError(400, 'InvalidCursor', 'cursor is not one this API returned');
    let page: Awaited<ReturnType<LabelIndex['copyGroups']>>;
    try {
      page = await copyGroups.call(index, bucket, { limit, cursor });
    } catch (err) {
      if (err instanceof InvalidCursorError) throw new HttpError(400, 'InvalidCursor', err.message);
      throw err;
    }
    const described = await describeGroups(vectors, page.groups, VECTOR_LIMITS.getBatch);
    return {
      groups: await Promise.all(
        described.map(async (g) => ({
          id: g.id,
          items: await Promise.all(
            g.items.map(async (m) => ({
              key: m.key,
              tier: m.tier,
              similarity: m.similarity,
              url: await signer.presignGet(m.key, VIEW_EXPIRES_SECONDS, viewType(m.key, 'ok')),
              ...(m.top ? { top: m.top } : {}),
              ...(m.top && withZh({ label: m.top }).zh ? { zh: withZh({ label: m.top }).zh } : {}),
            })),
          ),
          size: g.items.length,
        })),
      ),
      ...(page.cursor ? { cursor: page.cursor } : {}),
    };
  }

  async function describe(key: string) {
    checkKey(key);
    let list: { Key: string; Value: string }[];
    try {
      list = await store.getTags(bucket, key);
    } catch (err) {
      if (err instanceof ObjectMissingError) throw new HttpError(404, 'NotFound', `no object ${key}`);
      throw err;
    }
    const tags: Record<string, string> = {};
    for (const t of list) tags[t.Key] = t.Value;
    const taggable = isTaggable(key, prefix, suffixes);
    const indexed = tags[TAG_STATUS] === undefined && taggable ? await indexedVersion(key) : undefined;
    if (indexed) {
      // The service tags are gone, or not written yet (the tagger indexes first): the index knows.
      // Its labels and categories read as they would from the tags.
      const asTagged = (list: readonly IndexedLabel[]) =>
        parseLabelList(formatLabelList(list.map((l, i) => ({ ...l, index: i }))));
      const labels = asTagged(indexed.labels);
      return {
        key,
        status: indexed.status,
        top:
          indexed.status === 'ok' && indexed.labels[0]
            ? sanitizeTagValue(indexed.labels[0].label)
            : undefined,
        labels: labels.map(withZh),
        ...(indexed.categories?.length ? { categories: asTagged(indexed.categories).map(withZh) } : {}),
        ...(indexed.colours?.length ? { colours: asTagged(indexed.colours).map(colourZh) } : {}),
        ...(indexed.names?.length ? { names: asTagged(indexed.names) } : {}),
        model: indexed.model,
        tags,
        url: await signer.presignGet(key, VIEW_EXPIRES_SECONDS, viewType(key, indexed.status)),
        from: 'index',
      };
    }
    const status = tags[TAG_STATUS] ?? (taggable ? 'pending' : 'ignored');
    return {
      key,
      status,
      top: tags[TAG_TOP],
      labels: parseLabelList(tags[TAG_LABELS] ?? '').map(withZh),
      ...(tags[TAG_CATEGORIES] ? { categories: parseLabelList(tags[TAG_CATEGORIES]).map(withZh) } : {}),
      ...(tags[TAG_COLOURS] ? { colours: parseLabelList(tags[TAG_COLOURS]).map(colourZh) } : {}),
      ...(await namesOf(key, tags)),
      model: tags[TAG_MODEL],
      tags,
      url: await signer.presignGet(key, VIEW_EXPIRES_SECONDS, viewType(key, tags[TAG_STATUS])),
    };
  }

  /**
   * The taught names of an object: tagger:names, or, when the object's tags are full (the user's own
   * left no room for it), what the index holds for its current version.
   */
  async function namesOf(key: string, tags: Record<string, string>) {
    const tagged = tags[TAG_NAMES];
    if (tagged) return { names: parseLabelList(tagged) };
    if (tags[TAG_STATUS] !== 'ok' || Object.keys(tags).length < MAX_TAGS) return {};
    const names = (await indexedVersion(key))?.names;
    return names?.length ? { names: parseLabelList(formatLabelList(names)) } : {};
  }

  /**
   * What the index holds for the object as it is now: a live record whose ETag is the object's
   * (a 1-byte read with If-Match), so a record of a replaced version is not taken for the new one.
   */
  async function indexedVersion(key: string) {
    const record = await index.get(bucket, key);
    if (record?.state !== 'live' || record.etag === undefined) return undefined;
    try {
      await store.get(bucket, key, { maxBytes: 1, ifMatch: record.etag });
      return record;
    } catch (err) {
      if (err instanceof ObjectChangedError || err instanceof ObjectMissingError) return undefined;
      throw err;
    }
  }

  async function upload(event: APIGatewayProxyEventV2) {
    const body = bodyBytes(event.body, event.isBase64Encoded);
    if (body.length > MAX_UPLOAD_REQUEST_BYTES)
      throw invalid(
        `the request body is over ${MAX_UPLOAD_REQUEST_BYTES} bytes: send {filename, contentType?, size?, tagging?}`,
      );
    let request: unknown;
    try {
      request = JSON.parse(body.toString('utf8'));
    } catch {
      throw invalid('the body must be JSON {filename, contentType?, size?, tagging?}');
    }
    if (typeof request !== 'object' || request === null || Array.isArray(request))
      throw invalid('the body must be a JSON object {filename, contentType?, size?, tagging?}');
    const { filename, contentType, size, tagging: rawTagging } = request as Record<string, unknown>;
    const tagging = parseUploadTagging(rawTagging);
    if (typeof filename !== 'string' || filename.trim() === '')
      throw invalid('filename is required (a non-empty string)');
    if (filename.length > MAX_KEY_BYTES) throw invalid(`filename is over ${MAX_KEY_BYTES} characters`);
    if (size !== undefined && size !== null) {
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
        throw invalid('size must be a whole number of bytes');
      if (size === 0) throw invalid('the file is empty');
      if (size > maxBytes)
        throw new HttpError(
          413,
          'ImageTooLarge',
          `the file is ${size} bytes; the limit is ${maxBytes} bytes`,
        );
    }
    const name = sanitizeFilename(filename);
    const key = `${prefix}${randomUUID()}/${name}`;
    if (!isTaggable(key, prefix, suffixes))
      throw new HttpError(
        415,
        'UnsupportedFormat',
        `"${name}" does not end with a suffix the tagger reads (${suffixes.join(' ')})`,
      );
    let type: string | undefined;
    if (contentType !== undefined && contentType !== null && contentType !== '') {
      if (typeof contentType !== 'string') throw invalid('contentType must be a string');
      type = contentType.toLowerCase();
    } else type = rasterTypeOfKey(name);
    if (type === undefined || !RASTER_TYPES.has(type))
      throw new HttpError(
        415,
        'UnsupportedFormat',
        `only images the tagger decodes can be uploaded (${[...RASTER_TYPES].join(', ')}), got ${
          type === undefined ? `"${name}"` : `"${type.slice(0, 100)}"`
        }`,
      );
    if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw invalid('the key would be over 1024 bytes');
    const post = await signer.presignPost(key, {
      maxBytes,
      expiresSeconds: UPLOAD_EXPIRES_SECONDS,
      contentType: type,
      ...(tagging.length > 0 ? { tagging } : {}),
    });
    return { key, url: post.url, fields: post.fields, expiresAt: post.expiresAt.toISOString(), maxBytes };
  }

  return {
    search,
    describe,
    upload,
    similar,
    similarTo,
    duplicates,
    groups,
    hasVectors: config.vectors !== undefined,
    /** The search words (built on first use), for the label routes (src/http/labels.ts). */
    words: () => terms?.(),
  };
}
