/**
 * The label index (port): which objects carry which label, best score first, kept equal to the
 * objects' tags. The tagger writes it, the HTTP API reads it. The DynamoDB adapter is
 * src/aws/dynamo-index.ts; unit tests use the in-memory fake of test/helpers/memory-index.ts, and
 * one contract suite (test/helpers/index-contract.ts) holds both to the same behaviour.
 *
 * Ordering: writes for one key carry the S3 event's `sequencer` (hexadecimal; compare with
 * compareSequencers). A write older than what the index holds for the key is `stale` and changes
 * nothing, so duplicate and out-of-order deliveries leave the index as the newest event made it.
 * A write without a sequencer (backfill, S3 Batch Operations) describes the object as it is now and
 * keeps the sequencer the index already holds; it is applied only when it cannot undo a newer event:
 * when the index has no entry for the key, holds only version-less writes, or holds the same
 * version (same ETag: a re-tag with a new model). Otherwise it is `stale` (the event of the version
 * it read is on its way, or was already applied). It never revives a deleted object.
 */
import { sanitizeTagValue, type TagStatus } from './tags.ts';

export interface IndexedLabel {
  label: string;
  score: number;
}

/** What the tagger wrote for one object (the same values as its tags). */
export interface IndexRecord {
  bucket: string;
  key: string;
  status: TagStatus;
  /** Best first; empty unless status is ok. */
  labels: IndexedLabel[];
  /**
   * The vocabulary's categories (src/classifier/vocabulary.ts), by English name, best first; each
   * gets its own label item, so a search for "dog" finds every dog breed. Absent without one.
   */
  categories?: IndexedLabel[];
  /** "<name>@<version>" of the vocabulary, as in tagger:vocabulary. */
  vocabulary?: string;
  /**
   * Dominant colours (src/classifier/properties.ts) by English name, score = share of the picture,
   * largest first, as in tagger:colours; each gets a label item under colourTerm(name).
   */
  colours?: IndexedLabel[];
  /**
   * Taught names (src/tagging/taught-labels.ts) the object matches, by their normalised name,
   * score = cosine similarity to the name's centroid, best first, as in tagger:names; each gets a
   * label item under nameTerm(name). Absent when none.
   */
  names?: IndexedLabel[];
  /** "<name>@<version>", as in tagger:model. */
  model: string;
  /** The ETag of the object version these labels describe (quotes optional), when known. */
  etag?: string;
}

/** What the index holds for one key. */
export interface IndexedObject extends IndexRecord {
  /** The newest sequencer applied ('' when only version-less writes were). */
  sequencer: string;
  /** 'deleted' after an ObjectRemoved event (a tombstone that expires; it orders late deliveries). */
  state: 'live' | 'deleted';
}

export type IndexWrite = 'written' | 'stale';

export interface SearchItem {
  key: string;
  /** The score of the searched label. */
  score: number;
  top: string;
  labels: IndexedLabel[];
  categories?: IndexedLabel[];
  colours?: IndexedLabel[];
  names?: IndexedLabel[];
}

export interface SearchPage {
  items: SearchItem[];
  /** Opaque; absent on the last page. */
  cursor?: string;
}

export interface LabelIndex {
  /**
   * Records an object's labels. `current` is what the index holds once the write is done: when its
   * sequencer is newer than this write's, a newer event owns the key (the caller re-applies it).
   */
  put(record: IndexRecord, sequencer?: string): Promise<{ result: IndexWrite; current?: IndexedObject }>;
  /** Forgets an object (ObjectRemoved), unless the index already holds a newer event for it. */
  remove(bucket: string, key: string, sequencer?: string): Promise<{ result: IndexWrite }>;
  get(bucket: string, key: string): Promise<IndexedObject | undefined>;
  /**
   * Live objects with this term, best score first. The term is taken as it is (the caller made it
   * with normalizeLabel or colourTerm where the word entered). `spellings`: other spellings of the
   * same label (the word as typed, a model's original label for a tag-form search) whose legacy
   * partitions (legacyNormalizeLabel) are read too. `anyOf`: `term` names a group (a WordNet
   * hypernym such as "terrier"): the live objects of any of these terms, each once, under the one it
   * scores best on (groupTerm), best first; cursors are the group's (a page may come back short,
   * even empty, with a cursor).
   */
  search(
    bucket: string,
    term: LabelTerm,
    page: { limit: number; cursor?: string; spellings?: readonly string[]; anyOf?: readonly LabelTerm[] },
  ): Promise<SearchPage>;

  // Groups of copies (src/tagging/duplicates.ts decides who belongs together; the index records it).
  /** The group each of these keys is in (keys in none are absent). */
  copyGroupsOf(bucket: string, keys: readonly string[]): Promise<Map<string, string>>;
  /** Puts a key in group `id`, taking it out of the group it was in (a key is in one group at most). */
  joinCopyGroup(bucket: string, id: string, member: CopyMember): Promise<void>;
  /** Takes a key out of its group; returns the group it left (undefined: it was in none). */
  leaveCopyGroup(bucket: string, key: string): Promise<string | undefined>;
  /**
   * The members of one group, oldest first (since, then key); empty when there is no such group.
   * `limit`: at most that many (some members, not necessarily the oldest: enough to tell a size).
   */
  copyGroup(bucket: string, id: string, limit?: number): Promise<CopyMember[]>;
  /**
   * The bucket's groups, by id (newest first: copyGroupId), `limit` (1..50) groups a page, each with
   * its members oldest first. Groups of fewer than two members are left out. A cursor this index did
   * not hand out is an InvalidCursorError.
   */
  copyGroups(bucket: string, page: { limit: number; cursor?: string }): Promise<CopyGroupPage>;
}

/** A member of a group of copies. */
export interface CopyMember {
  key: string;
  /** When its current version was first indexed (epoch ms): the oldest member represents the group. */
  since: number;
}

export interface CopyGroup {
  id: string;
  /** Oldest first (since, then key). */
  members: CopyMember[];
}

export interface CopyGroupPage {
  groups: CopyGroup[];
  /** Opaque; absent on the last page. */
  cursor?: string;
}

/** A group id: 13 digits (10^13 - 1 - its first member's since, so that newer groups sort first), '-', 16 hex digits. */
export const COPY_GROUP_ID = /^\d{13}-[0-9a-f]{16}$/;

/** Members in group order: oldest first, then by key (code units). */
export const byAge = (a: CopyMember, b: CopyMember) =>
  a.since - b.since || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/**
 * The one of a group's terms an object is listed under in a group search: the one it scores best
 * on, ties to the first in code-unit order. Undefined when it has none.
 */
export function groupTerm(
  object: { labels: readonly IndexedLabel[]; categories?: readonly IndexedLabel[] },
  anyOf: ReadonlySet<LabelTerm>,
): LabelTerm | undefined {
  let best: IndexedLabel | undefined;
  let bestTerm: LabelTerm | undefined;
  for (const l of [...object.labels, ...(object.categories ?? [])]) {
    const term = normalizeLabel(l.label);
    if (!anyOf.has(term)) continue;
    if (!best || l.score > best.score || (l.score === best.score && term < (bestTerm as string))) {
      best = l;
      bestTerm = term;
    }
  }
  return bestTerm;
}

/** A cursor that this index did not hand out (or that was tampered with): HTTP 400. */
export class InvalidCursorError extends Error {
  constructor(message = 'cursor is not one this API returned') {
    super(message);
    this.name = 'InvalidCursorError';
  }
}

/**
 * A label, category, group or colour in the one form the index matches: made only by normalizeLabel
 * (or colourTerm), once, where a word enters (the HTTP API's search word, the vocabulary's terms, a
 * record's labels as they are written). The index takes it as it is and does not normalise again.
 */
export type LabelTerm = string & { readonly __labelTerm: true };

/**
 * The one form labels are matched in: the index's label partitions, search terms, and (but for
 * case) the tags. It is the tag form (sanitizeTagValue: apostrophes dropped, other characters S3
 * tags refuse turned into spaces), also without the '=' and '/' that separate tagger:labels
 * entries, lower-cased, spaces collapsed. So a label is found by the form its tags show and by the
 * model's own: "jack-o'-lantern" = "jack-o-lantern", "crane (bird)" = "Crane bird".
 */
export function normalizeLabel(label: string): LabelTerm {
  return sanitizeTagValue(label.replace(/[=/]/g, ' '), Number.POSITIVE_INFINITY).toLowerCase() as LabelTerm;
}

/**
 * The form label partitions had before normalizeLabel took the tag form (case and spacing only).
 * Read only: search also reads these partitions for labels whose two forms differ, so objects
 * indexed before stay findable until their next index write moves them (docs/label-index.md).
 */
export function legacyNormalizeLabel(label: string): string {
  return label.normalize('NFC').trim().replace(/\s+/g, ' ').toLowerCase();
}

/**
 * The index term of a colour: its own partitions, apart from a class or category of the same name
 * (ImageNet's "orange" is the fruit; an orange-coloured picture is under "colour:orange").
 */
export const colourTerm = (name: string): LabelTerm => `colour:${normalizeLabel(name)}` as LabelTerm;

/**
 * The index term of a taught name: its own partitions, apart from any class, category or colour
 * (a taught name is never a vocabulary word, but a later model's vocabulary may grow).
 */
export const nameTerm = (name: string): LabelTerm => `name:${normalizeLabel(name)}` as LabelTerm;

/** Sequencers are stored at this width, so that plain string comparison orders them (DynamoDB conditions). */
export const SEQUENCER_WIDTH = 32;

/**
 * The stored form of a sequencer: upper-case hex, right-padded with zeros to SEQUENCER_WIDTH, so
 * that string order is AWS's order. Undefined for '' or anything that is not 1..32 hex digits (such
 * a record is treated as version-less).
 */
export function normalizeSequencer(sequencer: string | undefined): string | undefined {
  if (!sequencer || !/^[0-9a-fA-F]{1,32}$/.test(sequencer)) return undefined;
  return sequencer.toUpperCase().padEnd(SEQUENCER_WIDTH, '0');
}

/** ETags compare without their quotes. */
export const bareEtag = (etag: string | undefined): string | undefined =>
  etag === undefined ? undefined : etag.replace(/^W\//, '').replace(/"/g, '');

/**
 * Orders two S3 sequencers of the same key: AWS's rule is to right-pad the shorter with zeros, then
 * compare lexicographically (hex digits, case-insensitive). '' (no sequencer) is the oldest.
 */
export function compareSequencers(a: string, b: string): number {
  const width = Math.max(a.length, b.length);
  const pa = a.toUpperCase().padEnd(width, '0');
  const pb = b.toUpperCase().padEnd(width, '0');
  if (a === '' || b === '') return a === b ? 0 : a === '' ? -1 : 1;
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}
