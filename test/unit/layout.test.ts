/**
 * The tree's layering (docs/layout.md), on every import of src/, static or dynamic: src/ ships in the
 * Lambda bundles, so it imports only src/ and packages, and its folders import one another without a
 * loop. Biome's noRestrictedImports and noImportCycles (biome.json) check the same per file in
 * `npm run lint`; this test also sees folder-level loops, which no per-file rule does.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../paths.ts';

const SRC = join(ROOT, 'src');
const IMPORT = /(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Relative imports of each file of src/, resolved to paths relative to the repository. */
function imports(): { from: string; to: string }[] {
  return sourceFiles(SRC).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((m) => ({
      from: relative(ROOT, file),
      to: relative(ROOT, resolve(dirname(file), m[1] as string)),
    })),
  );
}

/** The folder of a src/ file under src/ ('src' for a file directly in it). */
const folder = (path: string) => dirname(path).split(sep).slice(0, 2).join('/');

/** A cycle in a directed graph as a list of nodes, or undefined. */
function findCycle(edges: ReadonlyMap<string, ReadonlySet<string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'open') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'open');
    path.push(node);
    for (const next of edges.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of edges.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('layout', () => {
  it('src/ imports nothing outside src/ (models/, scripts/, bench/, tools/, paths.ts)', () => {
    const outside = imports().filter((i) => !i.to.startsWith(`src${sep}`));
    expect(outside).toEqual([]);
  });

  it("src/'s folders import one another without a loop", () => {
    const edges = new Map<string, Set<string>>();
    for (const { from, to } of imports()) {
      const [a, b] = [folder(from), folder(to)];
      if (a !== b) edges.set(a, (edges.get(a) ?? new Set()).add(b));
    }
    expect(edges.size).toBeGreaterThan(3);
    expect(findCycle(edges)).toBeUndefined();
  });

  it('findCycle finds a loop between folders and none in a chain', () => {
    const graph = (pairs: [string, string][]) => {
      const g = new Map<string, Set<string>>();
      for (const [a, b] of pairs) g.set(a, (g.get(a) ?? new Set()).add(b));
      return g;
    };
    expect(
      findCycle(
        graph([
          ['src/http', 'src/aws'],
          ['src/aws', 'src/tagging'],
        ]),
      ),
    ).toBeUndefined();
    expect(
      findCycle(
        graph([
          ['src/http', 'src/aws'],
          ['src/aws', 'src/tagging'],
          ['src/tagging', 'src/http'],
        ]),
      ),
    ).toEqual(['src/http', 'src/aws', 'src/tagging', 'src/http']);
  });
});
