/**
 * What `npm start` prints of serverless-offline and the functions: one short line per request or
 * event, each route once.
 *
 * serverless-offline prints, per HTTP request, "GET /health (λ: api)", blank lines, then
 * "(λ: api) RequestId: … Duration: 4.39 ms  Billed Duration: 5 ms"; its route box lists the Lambda
 * invoke route under every HTTP route; the functions log Powertools JSON lines of 300-600
 * characters. offlineLog() turns that into "GET /health (λ: api) 4 ms" and "[tagger] classified
 * key=… result=tagged totalMs=53"; warnings and errors of the functions pass whole.
 */

/** Powertools' keys that say nothing locally (the function's context, sampling, the time). */
const BOILERPLATE = new Set([
  'level',
  'message',
  'timestamp',
  'service',
  'sampling_rate',
  'cold_start',
  'function_arn',
  'function_memory_size',
  'function_name',
  'function_request_id',
  'xray_trace_id',
]);
const MAX_VALUE_CHARS = 80;
const MAX_LINE_CHARS = 240;

const REQUEST = /^(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS|ANY) (\S+) \(λ: ([\w-]+)\)$/;
const DURATION = /^\(λ: ([\w-]+)\) RequestId: \S+\s+Duration: ([\d.]+) ms/;

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** A Powertools JSON log line in one short line, or undefined when the line is not one. */
export function compactLogLine(line: string): string | undefined {
  if (!line.startsWith('{"level":')) return undefined;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const level = String(entry.level ?? '');
  // A warning or an error is read whole.
  if (level !== 'INFO' && level !== 'DEBUG') return line;
  const service = String(entry.service ?? '').replace(/^image-tagger-/, '');
  const fields: string[] = [];
  for (const [key, value] of Object.entries(entry)) {
    if (BOILERPLATE.has(key) || value === undefined || value === null) continue;
    if (key === 'timings' && typeof value === 'object' && 'totalMs' in value)
      fields.push(`totalMs=${Math.round(Number((value as { totalMs: unknown }).totalMs))}`);
    else if (typeof value !== 'object') fields.push(`${key}=${clip(String(value), MAX_VALUE_CHARS)}`);
  }
  return clip([`[${service}] ${String(entry.message ?? '')}`, ...fields].join(' '), MAX_LINE_CHARS);
}

/**
 * A filter for serverless-offline's output lines: each call returns the lines to print (none, the
 * line, or a line it held back completed).
 */
export function offlineLog(): (line: string) => string[] {
  // Requests waiting for their duration line, per function (in order: one worker per function here).
  const pending = new Map<string, string[]>();
  return (raw: string) => {
    const line = raw.trimEnd();
    if (line.trim() === '') return [];
    // The route box lists the invoke route under every HTTP route: each route once.
    if (/│.*\/2015-03-31\/functions\/.*\/invocations/.test(line)) return [];
    // The JWT authorizer's claim check runs on every data route: only its refusals are news.
    if (/^(Running JWT Authorization function for |JWT Token validated$)/.test(line.trim())) return [];
    const request = REQUEST.exec(line);
    if (request) {
      const fn = request[3] as string;
      pending.set(fn, [...(pending.get(fn) ?? []), line]);
      return [];
    }
    const duration = DURATION.exec(line);
    if (duration) {
      const queue = pending.get(duration[1] as string) ?? [];
      const first = queue.shift();
      // An invocation without an HTTP request (the tagger's events): npm start's own line reports it.
      return first === undefined ? [] : [`${first} ${Math.round(Number(duration[2]))} ms`];
    }
    return [compactLogLine(line) ?? line];
  };
}

/**
 * The tagger's answer to one S3 event in a few words: "ok: Golden Retriever 79.4%", "removed from
 * the index", or the status it wrote ("UnsupportedFormat").
 */
export function taggerResultSummary(payload: string): string {
  let results: unknown;
  try {
    results = JSON.parse(payload);
  } catch {
    return clip(payload, 200);
  }
  if (!Array.isArray(results)) return clip(payload, 200);
  return results
    .map((r: Record<string, unknown>) => {
      const top = (r.classification as { labels?: { label: string; score: number }[] } | undefined)
        ?.labels?.[0];
      if (r.status === 'ok' && top) return `ok: ${top.label} ${(top.score * 100).toFixed(1)}%`;
      if (r.result === 'removed') return 'removed from the index';
      if (typeof r.status === 'string') return r.status;
      return String(r.result ?? 'done');
    })
    .join('; ');
}
