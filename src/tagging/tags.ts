/**
 * The S3 tag layout of the tagger, and how it merges with the tags an object already has.
 *
 * Service tags (all keys start with `tagger:`):
 *   tagger:status  ok | UnsupportedFormat | CorruptImage | ImageTooLarge
 *   tagger:top     the best label                     (only when status is ok)
 *   tagger:labels  "label=score/label=score/..."      (top-3, scores with 3 decimals; only when ok)
 *   tagger:model   "<name>@<version>"                 (the model that produced the tags)
 *   tagger:categories "category=score/..."           (ImageNet-1k models: the vocabulary's categories
 *                                                       scoring at least the threshold; only when ok)
 *   tagger:vocabulary "<name>@<version>"             (the vocabulary the names come from, if any)
 *   tagger:colours "colour=share/..."                  (dominant colours covering at least
 *                                                       MIN_INDEXED_COLOUR_SHARE of the picture, share
 *                                                       0-1; src/classifier/properties.ts; only when ok)
 *   tagger:names  "name=score/..."                     (taught names the image matches, best first,
 *                                                       score = similarity to the name's centroid;
 *                                                       src/tagging/taught-labels.ts; only when any)
 * Labels and categories below the threshold (MIN_CONFIDENCE) are left out; names are English, or
 * Chinese with TAG_LANGUAGE=zh (made tag-safe by sanitizeTagValue).
 *
 * S3 limits: 10 tags per object, keys up to 128 and values up to 256 characters, only letters,
 * digits, white space and `_ . : / = + - @`. Every tag that is not the service's own is kept as is;
 * the service's own take the free slots in the order of SERVICE_TAG_PRIORITY and then
 * EXTRA_SERVICE_TAGS (status is the last to go). An upload may carry MAX_TAGS minus the length of
 * SERVICE_TAG_PRIORITY tags of its own: the extra tags are written when the user's tags leave room,
 * and left out otherwise (the label index still holds what they say, so search still finds it).
 */
import type { Label } from '../classifier/postprocess.ts';

/** A name and its score, as the tags list them (a classifier Label is one). */
export type ScoredName = Pick<Label, 'label' | 'score'> | Label;

export const TAG_PREFIX = 'tagger:';
export const TAG_STATUS = `${TAG_PREFIX}status`;
export const TAG_TOP = `${TAG_PREFIX}top`;
export const TAG_LABELS = `${TAG_PREFIX}labels`;
export const TAG_MODEL = `${TAG_PREFIX}model`;
export const TAG_CATEGORIES = `${TAG_PREFIX}categories`;
export const TAG_VOCABULARY = `${TAG_PREFIX}vocabulary`;
export const TAG_COLOURS = `${TAG_PREFIX}colours`;
export const TAG_NAMES = `${TAG_PREFIX}names`;
/** Most important first; the tags an upload always leaves room for. */
export const SERVICE_TAG_PRIORITY = [
  TAG_STATUS,
  TAG_TOP,
  TAG_CATEGORIES,
  TAG_LABELS,
  TAG_MODEL,
  TAG_VOCABULARY,
] as const;
/** Written after SERVICE_TAG_PRIORITY's, when the user's tags leave room; most important first. */
export const EXTRA_SERVICE_TAGS = [TAG_NAMES, TAG_COLOURS] as const;
/** A dominant colour is tagged and indexed when it covers at least this share of the picture. */
export const MIN_INDEXED_COLOUR_SHARE = 0.05;

export const MAX_TAGS = 10;
export const MAX_KEY_CHARS = 128;
export const MAX_VALUE_CHARS = 256;

export type TagStatus = 'ok' | 'UnsupportedFormat' | 'CorruptImage' | 'ImageTooLarge';

export interface Tag {
  Key: string;
  Value: string;
}

const DISALLOWED = /[^\p{L}\p{N}\p{Z}_.:/=+\-@]/gu;
/** A tag key or value made only of the characters S3 allows. */
export const S3_TAG_TEXT = /^[\p{L}\p{N}\p{Z}_.:/=+\-@]*$/u;

/** Truncates to at most `max` characters (code points, so no surrogate pair is cut in half). */
function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : chars.slice(0, max).join('').trimEnd();
}

/**
 * Makes any text a valid tag value: apostrophes disappear ("jack-o'-lantern" -> "jack-o-lantern"),
 * every other character S3 refuses (commas, brackets, quotes...) becomes a space, runs of spaces
 * collapse, and the result is cut to `max` characters.
 */
export function sanitizeTagValue(text: string, max = MAX_VALUE_CHARS): string {
  const clean = text
    .normalize('NFC')
    .replace(/['\u2019]/g, '')
    .replace(DISALLOWED, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return truncate(clean, max);
}

/** A label inside tagger:labels: also without the '=' and '/' that separate the entries there. */
function labelForList(label: string): string {
  return sanitizeTagValue(label.replace(/[=/]/g, ' '), 64);
}

/** Formats the top-k list so that it fits one tag value: entries that would overflow are left out. */
export function formatLabelList(labels: readonly ScoredName[]): string {
  let out = '';
  for (const l of labels) {
    const entry = `${labelForList(l.label)}=${l.score.toFixed(3)}`;
    const next = out ? `${out}/${entry}` : entry;
    if (Array.from(next).length > MAX_VALUE_CHARS) break;
    out = next;
  }
  return out;
}

/** Parses tagger:labels back into [label, score] pairs (for tests and tools). */
export function parseLabelList(value: string): { label: string; score: number }[] {
  if (!value) return [];
  return value.split('/').map((entry) => {
    const at = entry.lastIndexOf('=');
    return { label: entry.slice(0, at), score: Number(entry.slice(at + 1)) };
  });
}

export interface ModelRef {
  name: string;
  version: string;
}

/** A model as the tags, the index and the logs name it: "name@version". */
export const formatModelRef = (m: ModelRef): string => `${m.name}@${m.version}`;

/** "name@version" -> {name, version}: the version is what follows the last '@'. */
export function splitModelRef(text: string): ModelRef {
  const at = text.lastIndexOf('@');
  return { name: text.slice(0, Math.max(0, at)), version: text.slice(at + 1) };
}

/** The service's own tags for one outcome, in priority order. */
export function serviceTags(
  status: TagStatus,
  model: ModelRef,
  labels: readonly ScoredName[] = [],
  vocabulary: { categories?: readonly ScoredName[]; ref?: string } = {},
  colours: readonly ScoredName[] = [],
  names: readonly ScoredName[] = [],
): Tag[] {
  const tags: Tag[] = [{ Key: TAG_STATUS, Value: status }];
  if (status === 'ok' && labels.length > 0)
    tags.push({ Key: TAG_TOP, Value: sanitizeTagValue(labels[0]?.label ?? '') });
  const categories = status === 'ok' ? (vocabulary.categories ?? []) : [];
  if (categories.length > 0) tags.push({ Key: TAG_CATEGORIES, Value: formatLabelList(categories) });
  if (status === 'ok' && labels.length > 0) tags.push({ Key: TAG_LABELS, Value: formatLabelList(labels) });
  tags.push({ Key: TAG_MODEL, Value: sanitizeTagValue(formatModelRef(model)) });
  if (vocabulary.ref) tags.push({ Key: TAG_VOCABULARY, Value: sanitizeTagValue(vocabulary.ref) });
  if (status === 'ok' && colours.length > 0) tags.push({ Key: TAG_COLOURS, Value: formatLabelList(colours) });
  if (status === 'ok' && names.length > 0) tags.push({ Key: TAG_NAMES, Value: formatLabelList(names) });
  return tags;
}

export const isServiceTag = (key: string): boolean => key.startsWith(TAG_PREFIX);

export interface MergeResult {
  tags: Tag[];
  /** Service tags that did not fit next to the object's other tags. */
  dropped: string[];
}

/**
 * Keeps every tag that is not the service's own (in its original order), replaces the service's
 * own with `ours`, and stays within MAX_TAGS by dropping the least important of ours.
 */
export function mergeTags(existing: readonly Tag[], ours: readonly Tag[]): MergeResult {
  const kept = existing.filter((t) => !isServiceTag(t.Key));
  const room = Math.max(0, MAX_TAGS - kept.length);
  const order: readonly string[] = [...SERVICE_TAG_PRIORITY, ...EXTRA_SERVICE_TAGS];
  const rank = (key: string) => {
    const i = order.indexOf(key);
    return i === -1 ? order.length : i;
  };
  const sorted = [...ours].sort((a, b) => rank(a.Key) - rank(b.Key));
  return {
    tags: [...kept, ...sorted.slice(0, room)],
    dropped: sorted.slice(room).map((t) => t.Key),
  };
}

/** Same tags, regardless of order. */
export function sameTags(a: readonly Tag[], b: readonly Tag[]): boolean {
  if (a.length !== b.length) return false;
  const map = new Map(a.map((t) => [t.Key, t.Value]));
  return b.every((t) => map.get(t.Key) === t.Value);
}

/** S3 event keys are URL-encoded with '+' for spaces (application/x-www-form-urlencoded style). */
export function decodeS3Key(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}

/** The inverse of decodeS3Key, as S3 writes keys into event notifications. */
export function encodeS3Key(key: string): string {
  return encodeURIComponent(key)
    .replace(/%20/g, '+')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%2F/g, '/');
}

/** Whether a (decoded) key is one the tagger handles: under the prefix, with an image suffix (any case). */
export function isTaggable(key: string, prefix: string, suffixes: readonly string[]): boolean {
  const lower = key.toLowerCase();
  return key.startsWith(prefix) && suffixes.some((s) => lower.endsWith(s.toLowerCase()));
}
