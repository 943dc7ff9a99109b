/**
 * An in-memory TaughtLabelStore (fake of src/tagging/taught-labels.ts), held to the same contract
 * as the DynamoDB adapter (test/helpers/taught-labels-contract.ts). `calls` lists every operation.
 */
import { normalizeName, type TaughtLabel, type TaughtLabelStore } from '../../src/tagging/taught-labels.ts';

const copy = (l: TaughtLabel): TaughtLabel => ({
  ...l,
  centroid: new Float32Array(l.centroid),
  leaveOneOut: [...l.leaveOneOut],
  examples: [...l.examples],
  not: [...l.not],
});

export class MemoryTaughtLabels implements TaughtLabelStore {
  readonly labels = new Map<string, TaughtLabel>();
  readonly calls: string[] = [];
  private id = (bucket: string, name: string) => `${bucket}\u0000${normalizeName(name)}`;

  async put(bucket: string, label: TaughtLabel) {
    this.calls.push(`put ${label.name}`);
    const id = this.id(bucket, label.name);
    const had = this.labels.has(id);
    this.labels.set(id, { ...copy(label), name: normalizeName(label.name) });
    return had ? ('replaced' as const) : ('created' as const);
  }

  async get(bucket: string, name: string) {
    this.calls.push(`get ${name}`);
    const l = this.labels.get(this.id(bucket, name));
    return l && copy(l);
  }

  async list(bucket: string) {
    this.calls.push('list');
    return [...this.labels.entries()]
      .filter(([id]) => id.startsWith(`${bucket}\u0000`))
      .map(([, l]) => copy(l))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async progress(
    bucket: string,
    name: string,
    createdAt: string,
    p: Parameters<TaughtLabelStore['progress']>[3],
  ) {
    this.calls.push(`progress ${name}`);
    const l = this.labels.get(this.id(bucket, name));
    if (!l || l.createdAt !== createdAt) return false;
    const { progress: _, ...rest } = l;
    this.labels.set(this.id(bucket, name), {
      ...rest,
      labelled: p.labelled,
      complete: p.complete,
      ...(p.progress !== undefined ? { progress: p.progress } : {}),
    });
    return true;
  }

  async delete(bucket: string, name: string) {
    this.calls.push(`delete ${name}`);
    const id = this.id(bucket, name);
    const l = this.labels.get(id);
    this.labels.delete(id);
    return l && copy(l);
  }
}
