/**
 * Groups of copies, recorded at ingest (docs/similar-and-duplicates.md, "Groups of copies").
 *
 * A copy of an image is another image with the same bytes (SHA-256: `exact`) or the same photo
 * edited (cosine similarity of the embeddings at or above NEAR_DUPLICATE_SIMILARITY: `near`). When
 * the tagger has written an object's vector, it asks the vector index once for the object's nearest
 * neighbours (COPY_QUERY_TOP_K) and records, in the label index, the group the object belongs to:
 * - no copies: in no group (it leaves the one it was in: an overwrite with another photo);
 * - copies, one of them in a group: that group (the group of the oldest such copy; its own group
 *   when one of its copies is in it), and its copies that are in no group join too;
 * - copies, none in a group: a new group with them, its id made from its oldest member
 *   (copyGroupId), so two taggers that form the same group at once name it alike.
 * A group that a leave (a delete, an overwrite) brings down to one member is dissolved: a group of
 * one is no group. Members of a group are linked by copies: each was a copy of a member when it
 * joined (chains are possible: B and C, both copies of A, stay grouped when A is deleted).
 *
 * The group is computed from what the vector index holds (kept equal to the bucket's newest
 * versions by the tagger's steps 5-6), then checked against the label index: if a newer version of
 * the key was indexed meanwhile, it is done again for that version (its vector), at most
 * MAX_GROUP_ROUNDS times. So duplicate and out-of-order deliveries converge as the vectors do.
 */
import { createHash } from 'node:crypto';
import {
  bareEtag,
  byAge,
  type CopyMember,
  colourTerm,
  type IndexedObject,
  type LabelIndex,
  normalizeLabel,
} from './label-index.ts';
import { type DuplicateTier, NEAR_DUPLICATE_SIMILARITY } from './similarity.ts';
import {
  cosineSimilarity,
  type StoredVector,
  type VectorIndex,
  type VectorMatch,
  type VectorMetadata,
} from './vector-index.ts';

/** Neighbours asked for at ingest: more copies of one photo than this are found by later uploads. */
export const COPY_QUERY_TOP_K = 30;
/** Members of a group re-checked when one leaves it (regroup). */
export const REGROUP_MEMBERS = 20;
/** Rounds of recordCopies when the key keeps changing under it (then it throws: Lambda retries). */
export const MAX_GROUP_ROUNDS = 4;

/** How `m` relates to the image with this metadata: a copy of which tier, or none. */
export function copyTier(
  self: Pick<VectorMetadata, 'sha256'>,
  m: Pick<VectorMatch, 'similarity' | 'metadata'>,
): DuplicateTier | undefined {
  if (self.sha256 !== undefined && m.metadata.sha256 === self.sha256) return 'exact';
  return m.similarity >= NEAR_DUPLICATE_SIMILARITY ? 'near' : undefined;
}

/**
 * When a vector's version was written to S3 (epoch ms: its Last-Modified, stable across the
 * redeliveries that rewrite the vector; 0 for vectors written before it was recorded).
 */
export const uploadedAt = (metadata: VectorMetadata): number =>
  typeof metadata.uploadedAt === 'number' && Number.isFinite(metadata.uploadedAt) ? metadata.uploadedAt : 0;

/**
 * The id of a group formed around its oldest member: 13 digits that sort newer groups first, then
 * 16 hex digits of the SHA-256 of the member's key and ETag (a key reused for another photo later
 * forms another group). COPY_GROUP_ID is its shape.
 */
export function copyGroupId(root: { key: string; etag: string; since: number }): string {
  const age = String(Math.max(0, 9_999_999_999_999 - Math.max(0, Math.floor(root.since)))).padStart(13, '0');
  const hash = createHash('sha256')
    .update(`${root.key}\0${bareEtag(root.etag) ?? ''}`)
    .digest('hex');
  return `${age}-${hash.slice(0, 16)}`;
}

export interface CopiesTarget {
  index: Pick<LabelIndex, 'get' | 'copyGroupsOf' | 'joinCopyGroup' | 'leaveCopyGroup' | 'copyGroup'>;
  vectors: Pick<VectorIndex, 'get' | 'query'>;
}

/** What recordCopies did: the group the key is in now (null: none), how many copies it has. */
export interface CopiesOutcome {
  group: string | null;
  copies: number;
}

/**
 * Records the group of `key` from the vector index. `vector`: the vector the caller just wrote (and
 * that the label index's record names), saving a GetVectors; otherwise the stored one is read.
 * `null`: the key has no vector (deleted, or not an image): it leaves its group.
 */
export async function recordCopies(
  t: CopiesTarget,
  bucket: string,
  key: string,
  vector?: StoredVector | null,
  /** 1 or 2 when recording a copy's group from another's (2 goes no further). */
  depth = 0,
  /** The neighbours of `vector`, when the caller queried them already (after writing it). */
  neighbours?: VectorMatch[],
): Promise<CopiesOutcome> {
  let self = vector;
  for (let round = 0; ; round++) {
    if (self === undefined) self = (await t.vectors.get([key]))[0] ?? null;
    const { settled, ...outcome } =
      self === null
        ? { ...(await leave(t, bucket, key, depth)), settled: true }
        : await join(t, bucket, self, depth, round === 0 ? neighbours : undefined);
    // The check: the label index still names the version grouped (or none, for a leave).
    const current = await t.index.get(bucket, key);
    const live = current?.state === 'live' && current.status === 'ok' ? bareEtag(current.etag) : undefined;
    const grouped = self === null ? undefined : bareEtag(self.metadata.etag);
    const same = live === grouped || (live === '' && grouped !== undefined);
    if (same && settled) return outcome;
    if (!same) {
      // Another version is indexed. Until the vector index holds it, its own invocation has its
      // step 7 ahead (after its vector write, so after everything written here): leave it that.
      const [stored] = await t.vectors.get([key]);
      if ((stored ? bareEtag(stored.metadata.etag) : undefined) !== live) return outcome;
      self = stored ?? null;
    }
    if (round + 1 >= MAX_GROUP_ROUNDS) {
      // Its own version still, only the groups around it kept moving (concurrent joins and leaves of
      // its copies): what it recorded stands, and the next event of any of them records it afresh.
      if (same) return outcome;
      throw new Error(
        `s3://${bucket}/${key}: changed ${MAX_GROUP_ROUNDS} times while its copies were recorded`,
      );
    }
  }
}

/** Takes a key out of its group, and settles the group it left (regroup). */
async function leave(t: CopiesTarget, bucket: string, key: string, depth: number): Promise<CopiesOutcome> {
  // A read first: most images are in no group, and a read costs less than a write.
  if (!(await t.index.copyGroupsOf(bucket, [key])).has(key)) return { group: null, copies: 0 };
  const left = await t.index.leaveCopyGroup(bucket, key);
  if (left !== undefined) await regroup(t, bucket, left, depth);
  return { group: null, copies: 0 };
}

/**
 * After a member left a group (deleted, or another photo now): each remaining member's group is
 * recorded again from its vector, so a member that was linked to the group only through the one
 * that left leaves it too, and a group of one is dissolved. At most REGROUP_MEMBERS members are
 * re-checked (the rest keep their group until their own next event); within such a re-check
 * (depth 1) a group left is only dissolved when one member is left.
 */
async function regroup(t: CopiesTarget, bucket: string, group: string, depth: number) {
  const members = await t.index.copyGroup(bucket, group, REGROUP_MEMBERS + 1);
  if (depth > 0 || members.length > REGROUP_MEMBERS) {
    const [only] = members;
    if (members.length === 1 && only) await t.index.leaveCopyGroup(bucket, only.key);
    return;
  }
  for (const m of members) await recordCopies(t, bucket, m.key, undefined, depth + 1);
}

/**
 * Puts the key in the group of its copies. A group counts only with two members or more (a group
 * of one, left by a race, is as good as none); of several, the smallest id (deterministic: two
 * taggers choosing at once agree). Its copies in no group join it too. `settled` is false when the
 * group it joined did not hold it and another member afterwards (a concurrent leave dissolved it):
 * the caller runs it again.
 */
async function join(
  t: CopiesTarget,
  bucket: string,
  self: StoredVector,
  depth: number,
  neighbours?: VectorMatch[],
): Promise<CopiesOutcome & { settled: boolean }> {
  const matches = neighbours ?? (await t.vectors.query(self.vector, { topK: COPY_QUERY_TOP_K }));
  const copies = matches
    .filter((m) => m.key !== self.key && copyTier(self.metadata, m) !== undefined)
    .map((m) => ({ key: m.key, since: uploadedAt(m.metadata), etag: m.metadata.etag }));
  if (copies.length === 0) return { ...(await leave(t, bucket, self.key, depth)), settled: true };
  const me = { key: self.key, since: uploadedAt(self.metadata), etag: self.metadata.etag };
  const groups = await t.index.copyGroupsOf(bucket, [me.key, ...copies.map((c) => c.key)]);
  const own = groups.get(me.key);
  const candidates = [...new Set(copies.map((c) => groups.get(c.key)).filter((g) => g !== undefined))];
  const sizes = new Map(
    await Promise.all(
      candidates.map(async (g) => [g, (await t.index.copyGroup(bucket, g, 2)).length] as const),
    ),
  );
  const real = candidates.filter((g) => (sizes.get(g) ?? 0) >= 2).sort();
  const target = real[0] ?? copyGroupId([me, ...copies].sort(byAge)[0] as typeof me);
  const member = (c: CopyMember) => ({ key: c.key, since: c.since });
  if (own !== target) await t.index.joinCopyGroup(bucket, target, member(me));
  const loose = copies.filter((c) => !real.includes(groups.get(c.key) as string));
  await Promise.all(loose.map((c) => t.index.joinCopyGroup(bucket, target, member(c))));
  for (const old of new Set([own, ...loose.map((c) => groups.get(c.key))]))
    if (old !== undefined && old !== target) await regroup(t, bucket, old, depth);
  // The copies' vectors again: a copy deleted or overwritten since the query (its vector is not the
  // one the query saw) is no link. One it put in the group has its group recorded again from what it
  // is now (its own tagger does that too, after its vector write: if this read came before that
  // write, so did the join); if it joined a group through such a copy, it is done again.
  const now = new Map((await t.vectors.get(copies.map((c) => c.key))).map((v) => [v.key, v]));
  const changed = (c: { key: string; etag: string }) => {
    const v = now.get(c.key);
    return !v || bareEtag(v.metadata.etag) !== bareEtag(c.etag);
  };
  if (depth < 2)
    for (const c of loose.filter(changed))
      await recordCopies(t, bucket, c.key, now.get(c.key) ?? null, depth + 1);
  const linked = copies.some((c) => !changed(c));
  // Settled: it is in the group (its pointer) and so is another member (two members read).
  const [mine, two] = await Promise.all([
    t.index.copyGroupsOf(bucket, [me.key]),
    t.index.copyGroup(bucket, target, 2),
  ]);
  const settled = linked && mine.get(me.key) === target && two.length >= 2;
  return { group: target, copies: copies.length, settled };
}

/** A member of a group as GET /duplicates lists it (before its URL and names are added). */
export interface GroupItem {
  key: string;
  tier: DuplicateTier;
  /** Cosine similarity to the group's first member (1 for itself). */
  similarity: number;
  /** The best label (a normalised search word), when the vector has one. */
  top?: string;
}

/**
 * The members of groups with their tier and similarity to the group's first member (the oldest:
 * the representative), from their stored vectors. Members without a vector (deleted meanwhile) are
 * left out, and so is a group left with fewer than two.
 */
export async function describeGroups(
  vectors: Pick<VectorIndex, 'get'>,
  groups: { id: string; members: CopyMember[] }[],
  getBatch: number,
): Promise<{ id: string; items: GroupItem[] }[]> {
  const keys = [...new Set(groups.flatMap((g) => g.members.map((m) => m.key)))];
  const stored = new Map<string, StoredVector>();
  for (let i = 0; i < keys.length; i += getBatch)
    for (const v of await vectors.get(keys.slice(i, i + getBatch))) stored.set(v.key, v);
  const out: { id: string; items: GroupItem[] }[] = [];
  for (const g of groups) {
    const present = g.members.map((m) => stored.get(m.key)).filter((v): v is StoredVector => v !== undefined);
    const [first] = present;
    if (!first || present.length < 2) continue;
    out.push({
      id: g.id,
      items: present.map((v) => {
        const similarity = v === first ? 1 : cosineSimilarity(first.vector, v.vector);
        const exact =
          v === first || (first.metadata.sha256 !== undefined && v.metadata.sha256 === first.metadata.sha256);
        const top = v.metadata.labels?.[0];
        return {
          key: v.key,
          tier: exact ? 'exact' : 'near',
          similarity: Number(similarity.toFixed(4)),
          ...(top ? { top } : {}),
        };
      }),
    });
  }
  return out;
}

/**
 * At most this many members of one group are looked at when collapsing search results (of a larger
 * group, some: its copies past them are listed apart).
 */
export const COLLAPSE_MEMBERS = 100;
/** Keys of an item's copies listed with it in search results. */
export const COPY_KEYS = 10;

/** The search terms an object's record is listed under (normalizeLabel forms; colours by colourTerm). */
export function termsOf(o: Pick<IndexedObject, 'status' | 'labels' | 'categories' | 'colours'>): Set<string> {
  if (o.status !== 'ok') return new Set<string>();
  return new Set([
    ...[...o.labels, ...(o.categories ?? [])].map((l) => normalizeLabel(l.label)),
    ...(o.colours ?? []).map((c) => colourTerm(c.label)),
  ]);
}

/**
 * Collapses the copies in one page of search results: an item in a group of copies is listed only
 * when it is the first member of its group (the oldest) that the search finds, and carries how many
 * other members the search finds (`copies`) and up to COPY_KEYS of their keys (`copyKeys`). The rule
 * depends on the group and the search only, never on the page, so paging stays exact: every image
 * the search finds is listed once, or counted once with the copy listed for it (a page may come back
 * shorter than its limit). `finds(key)`: whether the search finds that key (asked only of members
 * not on this page).
 */
export async function collapseCopies<T extends { key: string }>(
  index: Pick<LabelIndex, 'copyGroupsOf' | 'copyGroup'>,
  bucket: string,
  items: readonly T[],
  finds: (key: string) => Promise<boolean>,
): Promise<(T & { copies?: number; copyKeys?: string[] })[]> {
  const groupOf = await index.copyGroupsOf(
    bucket,
    items.map((i) => i.key),
  );
  const onPage = new Set(items.map((i) => i.key));
  const found = new Map<string, string[]>();
  await Promise.all(
    [...new Set(groupOf.values())].map(async (group) => {
      const members = await index.copyGroup(bucket, group, COLLAPSE_MEMBERS);
      const hits = await Promise.all(members.map(async (m) => onPage.has(m.key) || (await finds(m.key))));
      found.set(
        group,
        members.filter((_, i) => hits[i]).map((m) => m.key),
      );
    }),
  );
  const out: (T & { copies?: number; copyKeys?: string[] })[] = [];
  for (const item of items) {
    const group = groupOf.get(item.key);
    const keys = group === undefined ? undefined : found.get(group);
    // Not (or no longer) a member as its group reads: listed alone.
    if (!keys?.includes(item.key)) {
      out.push(item);
      continue;
    }
    if (keys[0] !== item.key) continue;
    const others = keys.slice(1);
    out.push(
      others.length > 0 ? { ...item, copies: others.length, copyKeys: others.slice(0, COPY_KEYS) } : item,
    );
  }
  return out;
}
