/**
 * An in-memory LabelIndex (fake of src/tagging/label-index.ts) with the DynamoDB adapter's semantics:
 * sequencer ordering, version-less writes, tombstones, search order and cursors. Each call is atomic
 * (the DynamoDB adapter reaches the same end state with conditional writes; test/helpers/index-contract.ts
 * holds both to it). `calls` lists every operation, `failNext` makes the next call throw.
 */
import {
  decodeCursor,
  decodeGroupCursor,
  encodeCursor,
  encodeGroupCursor,
  labelItemKeys,
  labelPk,
} from '../../src/aws/dynamo-index.ts';
import {
  bareEtag,
  byAge,
  COPY_GROUP_ID,
  type CopyGroupPage,
  type CopyMember,
  compareSequencers,
  groupTerm,
  type IndexedObject,
  type IndexRecord,
  type IndexWrite,
  type LabelIndex,
  type LabelTerm,
  normalizeSequencer,
  type SearchPage,
} from '../../src/tagging/label-index.ts';

const copy = (o: IndexedObject): IndexedObject => ({
  ...o,
  labels: o.labels.map((l) => ({ ...l })),
  ...(o.categories ? { categories: o.categories.map((l) => ({ ...l })) } : {}),
  ...(o.colours ? { colours: o.colours.map((l) => ({ ...l })) } : {}),
  ...(o.names ? { names: o.names.map((l) => ({ ...l })) } : {}),
});

export class MemoryIndex implements LabelIndex {
  readonly objects = new Map<string, IndexedObject>();
  /** "<bucket>/<key>" -> the copy group it is in (and its member record). */
  readonly copyGroupOf = new Map<string, { group: string; member: CopyMember }>();
  readonly calls: string[] = [];
  /** Makes the next call throw this error (a fault of the index, e.g. throttling). */
  failNext?: Error;

  private enter(call: string): void {
    this.calls.push(call);
    const err = this.failNext;
    if (err) {
      this.failNext = undefined;
      throw err;
    }
  }

  async put(record: IndexRecord, sequencer?: string) {
    this.enter(`put ${record.key}`);
    const id = `${record.bucket}/${record.key}`;
    const before = this.objects.get(id);
    const seq = normalizeSequencer(sequencer);
    const stale = (): { result: IndexWrite; current?: IndexedObject } => ({
      result: 'stale',
      current: before && copy(before),
    });
    if (seq !== undefined) {
      if (before && compareSequencers(before.sequencer, seq) > 0) return stale();
    } else if (before) {
      const same = before.etag !== undefined && before.etag === bareEtag(record.etag);
      if (before.state === 'deleted' || (before.sequencer !== '' && !same)) return stale();
    }
    const next: IndexedObject = {
      bucket: record.bucket,
      key: record.key,
      status: record.status,
      labels: record.status === 'ok' ? record.labels.map((l) => ({ label: l.label, score: l.score })) : [],
      model: record.model,
      sequencer: seq ?? before?.sequencer ?? '',
      state: 'live',
    };
    const etag = bareEtag(record.etag);
    if (etag !== undefined) next.etag = etag;
    if (record.status === 'ok' && record.categories?.length)
      next.categories = record.categories.map((l) => ({ label: l.label, score: l.score }));
    if (record.vocabulary !== undefined) next.vocabulary = record.vocabulary;
    if (record.status === 'ok' && record.colours?.length)
      next.colours = record.colours.map((l) => ({ label: l.label, score: l.score }));
    if (record.status === 'ok' && record.names?.length)
      next.names = record.names.map((l) => ({ label: l.label, score: l.score }));
    this.objects.set(id, next);
    return { result: 'written' as IndexWrite, current: copy(next) };
  }

  async remove(bucket: string, key: string, sequencer?: string) {
    this.enter(`remove ${key}`);
    const id = `${bucket}/${key}`;
    const before = this.objects.get(id);
    const seq = normalizeSequencer(sequencer);
    if (
      before &&
      before.sequencer !== '' &&
      (seq === undefined || compareSequencers(before.sequencer, seq) > 0)
    )
      return { result: 'stale' as IndexWrite };
    this.objects.set(id, {
      bucket,
      key,
      status: 'ok',
      labels: [],
      model: '',
      sequencer: seq ?? '',
      state: 'deleted',
    });
    return { result: 'written' as IndexWrite };
  }

  async get(bucket: string, key: string) {
    this.enter(`get ${key}`);
    const o = this.objects.get(`${bucket}/${key}`);
    return o && copy(o);
  }

  async search(
    bucket: string,
    term: LabelTerm,
    page: { limit: number; cursor?: string; anyOf?: readonly LabelTerm[] },
  ): Promise<SearchPage> {
    this.enter(`search ${term}`);
    const { limit, cursor } = page;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      throw new RangeError(`limit must be an integer from 1 to 100, not ${limit}`);
    const pk = labelPk(bucket, term);
    let after: string | undefined;
    if (cursor !== undefined) after = decodeCursor(cursor, pk).sk;
    const group = page.anyOf && new Set(page.anyOf);
    // A group lists each object once, in the partition of the label it scores best on.
    const listedUnder = (o: IndexedObject) => {
      if (!group) return pk;
      const term = groupTerm(o, group);
      return term === undefined ? undefined : labelPk(bucket, term);
    };
    const rows = [...this.objects.values()]
      .filter((o) => o.state === 'live' && o.bucket === bucket)
      .flatMap((o) =>
        labelItemKeys(o)
          .filter((k) => k.pk === listedUnder(o))
          .map((k) => ({
            sk: k.sk,
            item: {
              key: o.key,
              score: k.score,
              top: o.labels[0]?.label ?? '',
              labels: o.labels,
              ...(o.categories ? { categories: o.categories.map((l) => ({ ...l })) } : {}),
              ...(o.colours ? { colours: o.colours.map((l) => ({ ...l })) } : {}),
              ...(o.names ? { names: o.names.map((l) => ({ ...l })) } : {}),
            },
          })),
      )
      // DynamoDB orders sort keys by their UTF-8 bytes.
      .filter((r) => after === undefined || Buffer.compare(Buffer.from(r.sk), Buffer.from(after)) > 0)
      .sort((a, b) => Buffer.compare(Buffer.from(a.sk), Buffer.from(b.sk)));
    const pageRows = rows.slice(0, limit);
    const items = pageRows.map((r) => ({ ...r.item, labels: r.item.labels.map((l) => ({ ...l })) }));
    const last = pageRows[pageRows.length - 1];
    return rows.length > limit && last ? { items, cursor: encodeCursor({ pk, sk: last.sk }) } : { items };
  }

  async copyGroupsOf(bucket: string, keys: readonly string[]) {
    this.enter(`copyGroupsOf ${keys.join(',')}`);
    const out = new Map<string, string>();
    for (const key of keys) {
      const g = this.copyGroupOf.get(`${bucket}/${key}`);
      if (g) out.set(key, g.group);
    }
    return out;
  }

  async joinCopyGroup(bucket: string, id: string, member: CopyMember) {
    this.enter(`joinCopyGroup ${id} ${member.key}`);
    if (!COPY_GROUP_ID.test(id)) throw new RangeError(`not a copy group id: ${id}`);
    this.copyGroupOf.set(`${bucket}/${member.key}`, { group: id, member: { ...member } });
  }

  async leaveCopyGroup(bucket: string, key: string) {
    this.enter(`leaveCopyGroup ${key}`);
    const g = this.copyGroupOf.get(`${bucket}/${key}`);
    this.copyGroupOf.delete(`${bucket}/${key}`);
    return g?.group;
  }

  private groupsOfBucket(bucket: string) {
    const groups = new Map<string, CopyMember[]>();
    for (const [id, g] of this.copyGroupOf)
      if (id.startsWith(`${bucket}/`)) groups.set(g.group, [...(groups.get(g.group) ?? []), { ...g.member }]);
    return groups;
  }

  async copyGroup(bucket: string, id: string, limit?: number) {
    this.enter(`copyGroup ${id}`);
    return (this.groupsOfBucket(bucket).get(id) ?? []).sort(byAge).slice(0, limit);
  }

  async copyGroups(bucket: string, page: { limit: number; cursor?: string }): Promise<CopyGroupPage> {
    this.enter('copyGroups');
    const { limit, cursor } = page;
    if (!Number.isInteger(limit) || limit < 1 || limit > 50)
      throw new RangeError(`limit must be an integer from 1 to 50, not ${limit}`);
    const after = cursor === undefined ? undefined : decodeGroupCursor(cursor);
    const all = [...this.groupsOfBucket(bucket)]
      .filter(([id]) => after === undefined || id > after)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    const pageGroups = all.slice(0, limit);
    const groups = pageGroups
      .filter(([, members]) => members.length >= 2)
      .map(([id, members]) => ({ id, members: members.sort(byAge) }));
    const last = pageGroups[pageGroups.length - 1];
    return all.length > limit && last ? { groups, cursor: encodeGroupCursor(last[0]) } : { groups };
  }
}
