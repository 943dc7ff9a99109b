/**
 * A grouped bar chart as a hand-written SVG string (no dependency): one group per category (e.g.
 * "MobileNetV2, 1 thread"), one bar per series (e.g. fp32, s8, u8) with its value above it, a y axis
 * with ticks and a label, and a legend. Pure: data in, SVG text out, so it is unit-tested.
 */

export interface BarGroup {
  /** The group's label under the x axis. */
  label: string;
  /** One value per series, in the order of `BarChart.series`; null leaves a gap (no bar). */
  values: (number | null)[];
}

export interface BarChart {
  title: string;
  yLabel: string;
  /** Under the group labels. */
  xLabel?: string;
  series: string[];
  groups: BarGroup[];
  /** Decimals of the values written above the bars. */
  decimals?: number;
}

/** Colours of the series, in order (colour-blind friendly: Okabe-Ito). */
const COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00'];

export const CHART_LAYOUT = {
  width: 760,
  height: 420,
  left: 70,
  right: 20,
  top: 70,
  bottom: 70,
  barWidth: 28,
  barGap: 4,
} as const;

/** Escapes text for SVG (XML) character data and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A round axis maximum at or above `max` (1, 2 or 5 times a power of ten, in 5 steps). */
export function niceStep(max: number, steps = 5): number {
  if (!(max > 0) || !Number.isFinite(max)) return 1;
  const raw = max / steps;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) as number;
  return step;
}

const n = (x: number) => Number(x.toFixed(2)).toString();

export function barChartSvg(chart: BarChart): string {
  const L = CHART_LAYOUT;
  const decimals = chart.decimals ?? 1;
  const values = chart.groups.flatMap((g) => g.values).filter((v): v is number => v !== null && v >= 0);
  const step = niceStep(Math.max(0, ...values));
  const axisMax = step * Math.max(1, Math.ceil(Math.max(0, ...values) / step));
  const plotW = L.width - L.left - L.right;
  const plotH = L.height - L.top - L.bottom;
  const baseY = L.top + plotH;
  const y = (v: number) => baseY - (v / axisMax) * plotH;
  const groupW = plotW / Math.max(1, chart.groups.length);
  const barsW = chart.series.length * L.barWidth + (chart.series.length - 1) * L.barGap;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${L.height}" viewBox="0 0 ${L.width} ${L.height}" font-family="sans-serif" font-size="12" role="img" aria-labelledby="chart-title">`,
    `<title id="chart-title">${escapeXml(chart.title)}</title>`,
    `<rect width="${L.width}" height="${L.height}" fill="#ffffff"/>`,
    `<text x="${L.width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(chart.title)}</text>`,
  );
  // Legend.
  let lx = L.left;
  for (const [i, name] of chart.series.entries()) {
    out.push(
      `<rect x="${lx}" y="38" width="12" height="12" fill="${COLOURS[i % COLOURS.length]}"/>`,
      `<text x="${lx + 16}" y="48">${escapeXml(name)}</text>`,
    );
    lx += 28 + name.length * 7;
  }
  // Y axis, ticks and grid.
  for (let v = 0; v <= axisMax + step / 2; v += step) {
    const ty = n(y(v));
    out.push(
      `<line x1="${L.left}" y1="${ty}" x2="${L.width - L.right}" y2="${ty}" stroke="#dddddd"/>`,
      `<text x="${L.left - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle">${n(v)}</text>`,
    );
  }
  out.push(
    `<line x1="${L.left}" y1="${L.top}" x2="${L.left}" y2="${baseY}" stroke="#333333"/>`,
    `<line x1="${L.left}" y1="${baseY}" x2="${L.width - L.right}" y2="${baseY}" stroke="#333333"/>`,
    `<text transform="translate(18 ${n(L.top + plotH / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(chart.yLabel)}</text>`,
  );
  // Bars.
  for (const [g, group] of chart.groups.entries()) {
    const x0 = L.left + g * groupW + (groupW - barsW) / 2;
    for (const [i, name] of chart.series.entries()) {
      const v = group.values[i];
      if (v === null || v === undefined || !(v >= 0)) continue;
      const x = x0 + i * (L.barWidth + L.barGap);
      const top = y(v);
      out.push(
        `<rect class="bar" data-series="${escapeXml(name)}" data-value="${v}" x="${n(x)}" y="${n(top)}" width="${L.barWidth}" height="${n(baseY - top)}" fill="${COLOURS[i % COLOURS.length]}"><title>${escapeXml(`${group.label}, ${name}: ${v.toFixed(decimals)}`)}</title></rect>`,
        `<text x="${n(x + L.barWidth / 2)}" y="${n(top - 4)}" text-anchor="middle" font-size="10">${v.toFixed(decimals)}</text>`,
      );
    }
    out.push(
      `<text x="${n(L.left + g * groupW + groupW / 2)}" y="${baseY + 20}" text-anchor="middle">${escapeXml(group.label)}</text>`,
    );
  }
  if (chart.xLabel)
    out.push(
      `<text x="${n(L.left + plotW / 2)}" y="${L.height - 18}" text-anchor="middle" font-weight="bold">${escapeXml(chart.xLabel)}</text>`,
    );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
