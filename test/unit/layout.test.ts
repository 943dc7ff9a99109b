/**
 * The tree's layering (docs/layout.md), on every import of src/, static or dynamic: src/ ships in the
 * Lambda bundles, so it imports only src/ and packages, and its folders import one another downwards
 * only (handlers -> http -> tagging -> classifier, the adapters of aws/ wired by handlers alone).
 * Biome's noRestrictedImports and noImportCycles (biome.json) check the arrows per file, for every
 * top-level folder, in `npm run lint`; this test proves that lint refuses a planted bad import, and
 * also sees folder-level loops, which no per-file rule does.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

/** src/'s folders from the top down: an import goes to a folder of a higher rank only. */
const RANK: Record<string, number> = {
  'src/handlers': 0,
  'src/http': 1,
  'src/aws': 1,
  'src/tagging': 2,
  'src/auth': 2, // tokens: the token verifier (aws-jwt-verify), imported by http/access.ts
  src: 3, // settings.ts, telemetry.ts
  'src/classifier': 4,
};

/**
 * The files biome.json's noRestrictedImports rules flag among `planted` (path -> one import line),
 * linted in a scratch copy of the project's biome.json: the tree itself is never written.
 */
function lintRefuses(planted: Record<string, string>): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'layout-'));
  try {
    const config = JSON.parse(readFileSync(join(ROOT, 'biome.json'), 'utf8'));
    config.vcs = { enabled: false };
    config.files = { includes: ['**'] };
    writeFileSync(join(dir, 'biome.json'), JSON.stringify(config));
    for (const [path, line] of Object.entries(planted)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), `${line}\nexport const planted = x;\n`);
    }
    let out = '';
    try {
      execFileSync(join(ROOT, 'node_modules/.bin/biome'), ['lint', '--max-diagnostics=none', '.'], {
        cwd: dir,
        encoding: 'utf8',
        stdio: 'pipe',
      });
    } catch (err) {
      out = `${(err as { stdout: string }).stdout}${(err as { stderr: string }).stderr}`;
    }
    return [...out.matchAll(/^(\S+?):\d+:\d+ lint\/style\/noRestrictedImports/gm)]
      .map((m) => m[1] as string)
      .sort();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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

  it("src/'s folders import downwards only: handlers -> http -> tagging -> classifier; only handlers/ imports aws/", () => {
    const upwards = imports()
      .map(({ from, to }) => ({ from, to, a: folder(from), b: folder(to) }))
      .filter(({ a, b }) => a !== b && !((RANK[a] as number) < (RANK[b] as number)));
    expect(upwards).toEqual([]);
    expect(Object.keys(RANK).sort()).toEqual(
      [
        'src',
        ...readdirSync(SRC, { withFileTypes: true })
          .filter((e) => e.isDirectory())
          .map((e) => `src/${e.name}`),
      ].sort(),
    );
  });

  it('lint refuses a planted import across the layers, in every top-level folder, and lets the allowed ones be', () => {
    const bad = {
      'src/http/bad.ts': "import { x } from '../aws/s3-object-store.ts';",
      'src/tagging/bad.ts': "import { x } from '../http/api.ts';",
      'src/tagging/bad-ort.ts': "import { x } from '../classifier/dot-products.ts';",
      'src/tagging/bad-native.ts': "import { x } from '../classifier/native.ts';",
      'src/http/bad-ort.ts': "import { x } from '../classifier/dot-products.ts';",
      'src/http/bad-jpeg.ts': "import { x } from '../classifier/jpeg-turbo.ts';",
      'src/tagging/bad-jpeg.ts': "import { x } from '../classifier/jpeg-turbo.ts';",
      'src/classifier/bad.ts': "import { x } from '../tagging/tags.ts';",
      'src/classifier/bad-settings.ts': "import { x } from '../settings.ts';",
      'src/aws/bad.ts': "import { x } from '../handlers/init.ts';",
      'src/handlers/bad.ts': "import { x } from '../../scripts/build.ts';",
      'scripts/bad.ts': "import { x } from '../lab/avx2-only.ts';",
      'scripts/bad-bench.ts': "import { x } from '../bench/bench.ts';",
      'bench/bad.ts': "import { x } from '../lab/ops.ts';",
      'models/bad.ts': "import { x } from '../tools/classify/cli.ts';",
      'tools/classify/bad.ts': "import { x } from '../../scripts/build.ts';",
      'test/unit/bad.ts': "import { x } from '../../lab/ops.ts';",
      'paths.ts': "import { x } from './src/settings.ts';",
    };
    const good = {
      'src/handlers/good.ts': "import { x } from '../aws/s3-object-store.ts';",
      'src/http/good.ts': "import { x } from '../tagging/tags.ts';",
      'src/aws/good.ts': "import { x } from '../tagging/object-store.ts';",
      'src/tagging/good.ts': "import { x } from '../classifier/classifier.ts';",
      'src/handlers/good-ort.ts': "import { x } from '../classifier/dot-products.ts';",
      'scripts/good.ts': "import { x } from '../tools/classify/cli.ts';",
      'bench/good.ts': "import { x } from '../scripts/build.ts';",
      'lab/good.ts': "import { x } from '../bench/bench.ts';",
      'test/lab/good.ts': "import { x } from '../../lab/ops.ts';",
    };
    expect(lintRefuses({ ...bad, ...good })).toEqual(Object.keys(bad).sort());
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
