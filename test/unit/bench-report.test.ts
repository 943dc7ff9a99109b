/** The benchmark report's pure parts: the SVG bar chart and the generated section of docs/benchmarks.md. */
import { describe, expect, it } from 'vitest';
import type { StorageRow } from '../../bench/bench.ts';
import { barChartSvg, CHART_LAYOUT, escapeXml, niceStep } from '../../bench/chart.ts';
import {
  alignTables,
  BEGIN_MARKER,
  END_MARKER,
  generatedSection,
  latencyChart,
  type Machine,
  replaceGenerated,
} from '../../bench/report-doc.ts';

/** [series, value, height] of each bar, in document order. */
function bars(svg: string): { series: string; value: number; height: number; y: number }[] {
  return [
    ...svg.matchAll(
      /<rect class="bar" data-series="([^"]*)" data-value="([^"]*)" x="[^"]*" y="([^"]*)" width="[^"]*" height="([^"]*)"/g,
    ),
  ].map((m) => ({ series: m[1] as string, value: Number(m[2]), y: Number(m[3]), height: Number(m[4]) }));
}

const chart = {
  title: 'Latency',
  yLabel: 'ms',
  xLabel: 'model, threads',
  series: ['fp32', 's8', 'u8'],
  groups: [
    { label: 'MobileNetV2, 1 thread', values: [30, 10, 20] },
    { label: 'ResNet-18, 2 threads', values: [120, null, 60] },
  ],
};

describe('barChartSvg', () => {
  it('draws one bar per value, heights proportional to the values, on a common baseline', () => {
    const svg = barChartSvg(chart);
    const b = bars(svg);
    expect(b.map((x) => [x.series, x.value])).toEqual([
      ['fp32', 30],
      ['s8', 10],
      ['u8', 20],
      ['fp32', 120],
      ['u8', 60],
    ]);
    const perMs = (b[0] as { height: number }).height / 30;
    for (const x of b) expect(x.height).toBeCloseTo(x.value * perMs, 1);
    const baseline = CHART_LAYOUT.height - CHART_LAYOUT.bottom;
    for (const x of b) expect(x.y + x.height).toBeCloseTo(baseline, 1);
    // The tallest bar fits in the plot and the axis does not waste more than a tick step above it.
    const tallest = Math.max(...b.map((x) => x.height));
    const plot = CHART_LAYOUT.height - CHART_LAYOUT.top - CHART_LAYOUT.bottom;
    expect(tallest).toBeLessThanOrEqual(plot);
    expect(tallest).toBeGreaterThan(plot * 0.5);
  });

  it('writes the title, axis label, legend, group labels and each value', () => {
    const svg = barChartSvg(chart);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    for (const text of [
      'Latency',
      '>ms<',
      '>fp32<',
      '>s8<',
      '>u8<',
      'MobileNetV2, 1 thread',
      'ResNet-18, 2 threads',
      '>model, threads<',
    ])
      expect(svg).toContain(text);
    for (const v of ['30.0', '10.0', '20.0', '120.0', '60.0']) expect(svg).toContain(`>${v}</text>`);
  });

  it('escapes text, so a label cannot break the markup', () => {
    const svg = barChartSvg({
      ...chart,
      title: 'a < b & "c"',
      groups: [{ label: "<script>'x'", values: [1, 2, 3] }],
    });
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&lt;script&gt;&apos;x&apos;');
    expect(svg).toContain('a &lt; b &amp; &quot;c&quot;');
    expect(escapeXml('&amp;')).toBe('&amp;amp;');
  });

  it('picks round axis steps', () => {
    expect(niceStep(120)).toBe(25);
    expect(niceStep(9.5)).toBe(2);
    expect(niceStep(0)).toBe(1);
  });
});

const row = (model: string, weights: StorageRow['weights'], ms1: number, ms2: number): StorageRow => ({
  model,
  weights,
  auto: weights === 's8',
  exact: true,
  fileMb: 1,
  ms: { 1: ms1, 2: ms2 },
  coldStartMs: 0,
  firstRequestMs: 0,
  peakRssMb: 0,
});

describe('the benchmark report', () => {
  it('charts the storage table by model and threads, one series per storage present, fp32 first', () => {
    const c = latencyChart([
      row('MobileNetV2 (../shared)', 'fp32', 26.8, 33.2),
      row('MobileNetV2 (../shared)', 's8', 11.5, 16.3),
      row('MobileNetV2 (../shared)', 'u8', 25, 21.1),
      row('ResNet-18 (synthetic)', 'fp32', 100.8, 129.7),
      row('ResNet-18 (synthetic)', 'u8', 73.8, 71.5),
      row('ResNet-18 (synthetic)', 'mixed', 80, 75),
    ]);
    expect(c.series).toEqual(['fp32', 's8', 'u8', 'mixed']);
    expect(c.groups).toEqual([
      { label: 'MobileNetV2, 1 thread', values: [26.8, 11.5, 25, null] },
      { label: 'MobileNetV2, 2 threads', values: [33.2, 16.3, 21.1, null] },
      { label: 'ResNet-18, 1 thread', values: [100.8, null, 73.8, 80] },
      { label: 'ResNet-18, 2 threads', values: [129.7, null, 71.5, 75] },
    ]);
  });

  const machine: Machine = {
    cpuModel: 'AMD EPYC 9R14',
    arch: 'x64',
    flags: ['avx512_vnni', 'avx2'],
    cores: 2,
    node: 'v22.1.0',
    onnxruntime: '1.30.0',
    date: new Date('2026-11-29T10:00:00.123Z'),
  };

  it('puts the machine on top and nests the printed headings under "Current figures"', () => {
    const s = generatedSection(
      machine,
      ['(a note)', '# Classifier benchmark\n', '## int8 weight storage', '| a |'],
      true,
    );
    expect(s.startsWith(`${BEGIN_MARKER}\n## Current figures`)).toBe(true);
    expect(s.endsWith(END_MARKER)).toBe(true);
    for (const t of ['AMD EPYC 9R14 (x64)', '`avx512_vnni`, `avx2`', 'v22.1.0', '2026-11-29T10:00:00Z'])
      expect(s).toContain(t);
    expect(s).toMatch(/\n\| cores +\| 2 +\|\n/);
    expect(s).toMatch(/\n\| onnxruntime-node \| 1\.30\.0 +\|\n/);
    expect(s).toContain('](benchmarks-latency.svg)');
    expect(s).toContain('(a note)\n\n### Classifier benchmark\n');
    expect(s).toContain('\n#### int8 weight storage\n');
    expect(s.indexOf('| CPU ')).toBeLessThan(s.indexOf('### Classifier'));
    expect(generatedSection(machine, [], false)).not.toContain('.svg');
  });

  it('replaces the placeholder section first, then only what lies between the markers', () => {
    const doc = '# Benchmarks\n\nintro\n\n## Current figures\n\n_placeholder_\n\n## Older run\n\nkept\n';
    const first = replaceGenerated(doc, `${BEGIN_MARKER}\n## Current figures\n\nrun 1\n${END_MARKER}`);
    expect(first).toBe(
      `# Benchmarks\n\nintro\n\n${BEGIN_MARKER}\n## Current figures\n\nrun 1\n${END_MARKER}\n\n## Older run\n\nkept\n`,
    );
    const second = replaceGenerated(first, `${BEGIN_MARKER}\nrun 2\n${END_MARKER}`);
    expect(second).toBe(
      `# Benchmarks\n\nintro\n\n${BEGIN_MARKER}\nrun 2\n${END_MARKER}\n\n## Older run\n\nkept\n`,
    );
    expect(replaceGenerated('# B\n', 'X')).toBe('# B\n\nX\n');
  });
});

describe('alignTables', () => {
  it('pads columns to their widest cell, right-aligned columns on the left, as Biome formats markdown', () => {
    expect(
      alignTables([
        'text | not a table',
        '| model | ms |',
        '| --- | ---: |',
        '| ResNet-18 | 7.5 |',
        '| a |  |',
        '',
        '| x |',
      ]),
    ).toEqual([
      'text | not a table',
      '| model     |  ms |',
      '| --------- | --: |',
      '| ResNet-18 | 7.5 |',
      '| a         |     |',
      '',
      '| x |',
    ]);
  });
});
