/**
 * Lambda's asynchronous invocation (what S3 notifications use), locally: events wait in a queue and
 * run at most `concurrency` at a time (on AWS the function's reserved concurrency bounds it), a failed
 * attempt is retried `retries` times after a delay (Lambda: 2 retries, about 1 and 2 minutes apart),
 * and an event that still fails goes to `onFailure` with the record Lambda sends to the
 * function's on-failure destination (serverless.yml: the tagger's failure queue).
 * `npm start` delivers the local S3's events to the tagger through this.
 */

/** One attempt's outcome: ok, or the function's error (or why it could not be invoked). */
export type Attempt = { ok: true } | { ok: false; error: string; payload?: string };

/** The record of an event whose attempts all failed: Lambda's on-failure destination record. */
export interface FailureRecord<E> {
  version: '1.0';
  timestamp: string;
  requestContext: {
    functionArn: string;
    /** RetriesExhausted; Stopped when the local stack stopped before the event could run. */
    condition: 'RetriesExhausted' | 'Stopped';
    approximateInvokeCount: number;
  };
  requestPayload: E;
  responseContext: { functionError?: string };
  responsePayload?: string;
}

export interface AsyncInvokerOptions<E> {
  functionArn: string;
  /** Invocations running at once, at most. */
  concurrency: number;
  /** Attempts after the first one (Lambda's maximumRetryAttempts). */
  retries: number;
  /** Wait before retry i (the last entry for the ones beyond). */
  retryDelaysMs: readonly number[];
  invoke(event: E): Promise<Attempt>;
  onFailure(record: FailureRecord<E>): Promise<void> | void;
}

export interface AsyncInvoker<E> {
  enqueue(event: E): void;
  /** Events waiting (including those waiting for a retry) and running. */
  readonly waiting: number;
  readonly running: number;
  /** Resolves when nothing waits or runs. */
  idle(): Promise<void>;
  /**
   * Stops starting events: waits for the running ones, hands every waiting one to onFailure
   * (condition Stopped) and resolves with how many that was.
   */
  stop(): Promise<number>;
}

interface Job<E> {
  event: E;
  attempts: number;
}

export function asyncInvoker<E>(options: AsyncInvokerOptions<E>): AsyncInvoker<E> {
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1)
    throw new Error(`concurrency must be a positive integer, not ${options.concurrency}`);
  const queue: Job<E>[] = [];
  const delayed = new Map<Job<E>, NodeJS.Timeout>();
  const running = new Set<Promise<void>>();
  let stopped = false;
  let idleWaiters: (() => void)[] = [];

  const record = (job: Job<E>, condition: FailureRecord<E>['requestContext']['condition'], last?: Attempt) =>
    options.onFailure({
      version: '1.0',
      timestamp: new Date().toISOString(),
      requestContext: { functionArn: options.functionArn, condition, approximateInvokeCount: job.attempts },
      requestPayload: job.event,
      responseContext: last && !last.ok ? { functionError: last.error } : {},
      ...(last && !last.ok && last.payload !== undefined ? { responsePayload: last.payload } : {}),
    });

  const settle = () => {
    if (queue.length + delayed.size + running.size > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  };

  const run = async (job: Job<E>) => {
    job.attempts++;
    const outcome = await options
      .invoke(job.event)
      .catch((err: Error): Attempt => ({ ok: false, error: err.message }));
    if (outcome.ok) return;
    if (job.attempts <= options.retries && !stopped) {
      const delay = options.retryDelaysMs[Math.min(job.attempts - 1, options.retryDelaysMs.length - 1)] ?? 0;
      delayed.set(
        job,
        setTimeout(() => {
          delayed.delete(job);
          queue.push(job);
          pump();
        }, delay),
      );
      return;
    }
    await record(job, job.attempts > options.retries ? 'RetriesExhausted' : 'Stopped', outcome);
  };

  const pump = () => {
    while (!stopped && running.size < options.concurrency && queue.length > 0) {
      const job = queue.shift() as Job<E>;
      const task: Promise<void> = run(job)
        .catch(() => {}) // onFailure's own errors: the record is best effort
        .finally(() => {
          running.delete(task);
          pump();
          settle();
        });
      running.add(task);
    }
  };

  return {
    enqueue(event) {
      queue.push({ event, attempts: 0 });
      pump();
    },
    get waiting() {
      return queue.length + delayed.size;
    },
    get running() {
      return running.size;
    },
    idle() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        settle();
      });
    },
    async stop() {
      stopped = true;
      await Promise.allSettled([...running]);
      const left = [...queue, ...delayed.keys()];
      for (const timer of delayed.values()) clearTimeout(timer);
      delayed.clear();
      queue.length = 0;
      for (const job of left) await Promise.resolve(record(job, 'Stopped')).catch(() => {});
      settle();
      return left.length;
    },
  };
}
