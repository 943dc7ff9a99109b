/**
 * Lambda's asynchronous invocation as `npm start` runs it (scripts/local/async-invoke.ts): bounded
 * concurrency, retries, the failure record, and what stopping does with events still waiting.
 */
import { describe, expect, it } from 'vitest';
import { type Attempt, asyncInvoker, type FailureRecord } from '../../scripts/local/async-invoke.ts';

const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:tagger';
const tick = () => new Promise((r) => setTimeout(r, 1));

describe('asyncInvoker', () => {
  it('never runs more than its concurrency at once, and runs every event', async () => {
    let now = 0;
    let most = 0;
    const ran: number[] = [];
    const invoker = asyncInvoker<number>({
      functionArn: ARN,
      concurrency: 3,
      retries: 2,
      retryDelaysMs: [0],
      invoke: async (n) => {
        most = Math.max(most, ++now);
        await tick();
        now--;
        ran.push(n);
        return { ok: true };
      },
      onFailure: () => {
        throw new Error('no event fails here');
      },
    });
    for (let i = 0; i < 50; i++) invoker.enqueue(i);
    expect(invoker.running).toBe(3);
    expect(invoker.waiting).toBe(47);
    await invoker.idle();
    expect(most).toBe(3);
    expect(ran.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('retries a failed event twice, then records it as Lambda does (invoke count, error, payload)', async () => {
    const attempts = new Map<string, number>();
    const failures: FailureRecord<string>[] = [];
    const invoker = asyncInvoker<string>({
      functionArn: ARN,
      concurrency: 1,
      retries: 2,
      retryDelaysMs: [1, 2],
      invoke: async (e): Promise<Attempt> => {
        const n = (attempts.get(e) ?? 0) + 1;
        attempts.set(e, n);
        if (e === 'flaky' && n === 3) return { ok: true };
        if (e === 'down') throw new Error('connect ECONNREFUSED');
        return { ok: false, error: 'Unhandled', payload: `{"errorMessage":"boom ${n}"}` };
      },
      onFailure: (r) => {
        failures.push(r);
      },
    });
    for (const e of ['flaky', 'broken', 'down']) invoker.enqueue(e);
    await invoker.idle();
    expect(Object.fromEntries(attempts)).toEqual({ flaky: 3, broken: 3, down: 3 });
    expect(failures).toEqual([
      {
        version: '1.0',
        timestamp: expect.any(String),
        requestContext: { functionArn: ARN, condition: 'RetriesExhausted', approximateInvokeCount: 3 },
        requestPayload: 'broken',
        responseContext: { functionError: 'Unhandled' },
        responsePayload: '{"errorMessage":"boom 3"}',
      },
      {
        version: '1.0',
        timestamp: expect.any(String),
        requestContext: { functionArn: ARN, condition: 'RetriesExhausted', approximateInvokeCount: 3 },
        requestPayload: 'down',
        responseContext: { functionError: 'connect ECONNREFUSED' },
      },
    ]);
  });

  it('stop: lets running events finish and records the waiting ones as not delivered', async () => {
    const failures: FailureRecord<number>[] = [];
    const releases: (() => void)[] = [];
    const invoker = asyncInvoker<number>({
      functionArn: ARN,
      concurrency: 2,
      retries: 2,
      retryDelaysMs: [60_000],
      invoke: async (n) => {
        if (n === 0) return { ok: false, error: 'Unhandled' }; // waits a minute for its retry
        await new Promise<void>((r) => releases.push(r));
        return { ok: true };
      },
      onFailure: (r) => {
        failures.push(r);
      },
    });
    for (let i = 0; i < 5; i++) invoker.enqueue(i);
    await tick();
    const stopped = invoker.stop();
    expect(releases).toHaveLength(2); // 1 and 2 run; 0 waits for its retry, 3 and 4 in the queue
    for (const release of releases) release();
    expect(await stopped).toBe(3);
    expect(failures.map((f) => [f.requestPayload, f.requestContext.condition]).sort()).toEqual([
      [0, 'Stopped'],
      [3, 'Stopped'],
      [4, 'Stopped'],
    ]);
  });

  it('takes only a positive whole concurrency', () => {
    const options = {
      functionArn: ARN,
      retries: 2,
      retryDelaysMs: [0],
      invoke: async () => ({ ok: true }) as const,
      onFailure: () => {},
    };
    expect(() => asyncInvoker({ ...options, concurrency: 0 })).toThrow(
      'concurrency must be a positive integer, not 0',
    );
  });
});
