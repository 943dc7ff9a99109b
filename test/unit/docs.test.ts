/**
 * Docs that cannot drift from the code. Each check goes both ways: what the code has and the docs
 * lack, and what the docs name and the code no longer has. Every failure says what to add or remove
 * where, so whoever adds a variable, a param, an npm script or a tag fixes the docs in one step:
 * - a variable read by the settings module (src/settings.ts): a row of docs/configuration.md's
 *   "Environment variables" table;
 * - a param of serverless.yml (`params:`): a row of docs/configuration.md's "Deploy parameters" table;
 * - an npm script (package.json): `npm run <name>` somewhere in README.md, docs/ or lab/README.md;
 * - a service tag key (`tagger:*`, src/tagging/tags.ts): a row of docs/usage.md's tag table.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../paths.ts';
import * as tags from '../../src/tagging/tags.ts';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** The docs a user reads: README.md, docs/*.md and the lab's README. */
const DOCS = [
  'README.md',
  'lab/README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const CONFIGURATION = 'docs/configuration.md';
const USAGE = 'docs/usage.md';

/** The section of a markdown file under the heading that starts with `heading`, up to the next one. */
function section(path: string, heading: string): string {
  const text = read(path);
  const start = text.search(new RegExp(`^#+ ${heading}`, 'm'));
  if (start < 0) throw new Error(`${path} has no heading "${heading}"`);
  const body = text.indexOf('\n', start) + 1;
  const next = text.slice(body).search(/^#+ /m);
  return next < 0 ? text.slice(body) : text.slice(body, body + next);
}

/** The names in backticks in the first column of a markdown table's rows (`a`, `b` in one cell: both). */
function firstColumn(markdown: string): Set<string> {
  const names = new Set<string>();
  for (const line of markdown.split('\n')) {
    const cell = /^\|([^|]*)\|/.exec(line)?.[1];
    if (cell) for (const m of cell.matchAll(/`([^`]+)`/g)) names.add(m[1] as string);
  }
  return names;
}

/** Every variable src/settings.ts reads: env.NAME, env['NAME'] and helper calls (env, 'NAME'). */
function settingsVariables(source: string): Set<string> {
  const names = new Set<string>();
  for (const m of source.matchAll(
    /\benv(?:\.|\[\s*['"])([A-Z][A-Z0-9_]+)|\(\s*env\s*,\s*['"]([A-Z][A-Z0-9_]+)['"]/g,
  ))
    names.add((m[1] ?? m[2]) as string);
  return names;
}

/** The params of serverless.yml: every key of `params:` (default and each stage). */
function serverlessParams(): Set<string> {
  const doc = yaml.load(read('serverless.yml')) as { params: Record<string, Record<string, unknown>> };
  return new Set(Object.values(doc.params).flatMap((stage) => Object.keys(stage ?? {})));
}

/** Passes when there is no problem; else fails listing each, one a line, in full. */
const ok = (problems: string[]) => expect(problems.join('\n')).toBe('');

/** What is missing from `have`, as one line per name saying what to do. */
const missing = (want: Iterable<string>, have: ReadonlySet<string>, fix: (name: string) => string) =>
  [...want].filter((n) => !have.has(n)).map(fix);

describe('docs match the code', () => {
  it(`every variable src/settings.ts reads has a row in ${CONFIGURATION}, and every row names a variable still read`, () => {
    const read_ = settingsVariables(read('src/settings.ts'));
    expect(read_.size).toBeGreaterThan(10);
    const table = firstColumn(section(CONFIGURATION, 'Environment variables'));
    // Besides the settings module: variables a library reads (Powertools, the AWS SDK) that serverless.yml,
    // src/ or npm start's scripts/ set or name.
    const elsewhere = [
      read('serverless.yml'),
      ...['src', 'scripts'].flatMap((dir) =>
        (readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' }) as string[])
          .filter((f) => f.endsWith('.ts'))
          .map((f) => read(join(dir, f))),
      ),
    ].join('\n');
    ok(
      missing(
        read_,
        table,
        (v) =>
          `src/settings.ts reads ${v}: add a row "| \`${v}\` | <default> | <meaning> |" to the "Environment variables" table of ${CONFIGURATION}`,
      ),
    );
    ok(
      [...table]
        .filter((v) => /^[A-Z][A-Z0-9_]+$/.test(v) && !read_.has(v) && !elsewhere.includes(v))
        .map(
          (v) =>
            `${CONFIGURATION} documents ${v}, which neither src/settings.ts reads nor serverless.yml, src/ or scripts/ name: remove its row, or read it in src/settings.ts`,
        ),
    );
  });

  it(`every serverless.yml param has a row in ${CONFIGURATION}, and every row names a param that exists`, () => {
    const params = serverlessParams();
    expect(params.size).toBeGreaterThan(10);
    const table = firstColumn(section(CONFIGURATION, 'Deploy parameters'));
    ok(
      missing(
        params,
        table,
        (p) =>
          `serverless.yml has the param ${p}: add a row "| \`${p}\` | <default> | <meaning> |" to the "Deploy parameters" table of ${CONFIGURATION}`,
      ),
    );
    ok(
      missing(
        table,
        params,
        (p) =>
          `${CONFIGURATION} documents the param ${p}, which serverless.yml's params: no longer has: remove it`,
      ),
    );
  });

  it('every npm script is in the docs (npm run <name>), and every `npm run <name>` in the docs is a script', () => {
    const scripts = new Set(Object.keys(JSON.parse(read('package.json')).scripts as Record<string, string>));
    const mentioned = new Map<string, string>();
    for (const path of DOCS)
      for (const m of read(path).matchAll(
        /\bnpm (?:run ([a-z0-9][a-z0-9:_-]*[a-z0-9])(?![\w:*-])|(start|test)\b)/g,
      ))
        mentioned.set((m[1] ?? m[2]) as string, path);
    ok(
      missing(
        scripts,
        new Set(mentioned.keys()),
        (s) =>
          `package.json has the script ${s}: say what it does with \`npm run ${s}\` in the doc of its area (docs/testing.md, docs/benchmarks.md, lab/README.md, README.md...)`,
      ),
    );
    ok(
      [...mentioned]
        .filter(([s]) => !scripts.has(s))
        .map(
          ([s, path]) =>
            `${path} says \`npm run ${s}\`, which package.json does not have: rename or remove it`,
        ),
    );
  });

  it(`every service tag key (tagger:*) has a row in ${USAGE}, and the docs name no other`, () => {
    const keys = new Set(
      (Object.values(tags) as unknown[]).filter(
        (v): v is string => typeof v === 'string' && v.startsWith(tags.TAG_PREFIX) && v !== tags.TAG_PREFIX,
      ),
    );
    expect(keys.size).toBeGreaterThanOrEqual(6);
    const table = firstColumn(read(USAGE));
    ok(
      missing(
        keys,
        table,
        (k) =>
          `src/tagging/tags.ts writes the tag ${k}: add a row "| \`${k}\` | <values> | <example> |" to the tag table of ${USAGE}`,
      ),
    );
    const named = DOCS.flatMap((path) =>
      [...read(path).matchAll(/\btagger:[a-z][a-z0-9-]*/g)].map((m) => ({ key: m[0], path })),
    );
    ok(
      named
        .filter(({ key }) => !keys.has(key))
        .map(
          ({ key, path }) =>
            `${path} names the tag ${key}, which src/tagging/tags.ts does not write: remove or rename it`,
        ),
    );
  });

  it(`${USAGE} gives the order in which the service drops its tags when yours leave no room`, () => {
    const sentence = /the service drops([^.;]*);([^.]*)goes last/.exec(read(USAGE).replace(/\s+/g, ' '));
    const named = [...`${sentence?.[1]}${sentence?.[2]}`.matchAll(/`(tagger:[a-z-]+)`/g)].map((m) => m[1]);
    const order = [...tags.SERVICE_TAG_PRIORITY, ...tags.EXTRA_SERVICE_TAGS].reverse();
    ok(
      named.join() === order.join()
        ? []
        : [
            `${USAGE} should say "the service drops ${order
              .slice(0, -1)
              .map((k) => `\`${k}\``)
              .join(
                ', then ',
              )}; \`${order.at(-1)}\` goes last" (SERVICE_TAG_PRIORITY and EXTRA_SERVICE_TAGS, src/tagging/tags.ts), not: ${named.join(', ')}`,
          ],
    );
  });

  it('settingsVariables finds each way the settings module reads a variable', () => {
    expect(
      [
        ...settingsVariables(
          "env.A_B ?? x; positiveInt(env, 'C_D', 9); flag( env , \"E_F\", false); env['G_H']; env.lower; other.I_J",
        ),
      ].sort(),
    ).toEqual(['A_B', 'C_D', 'E_F', 'G_H']);
  });
});
