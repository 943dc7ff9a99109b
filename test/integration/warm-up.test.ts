import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClassifier } from '../../src/classifier/classifier.ts';
import { importSharedModel, skipUnlessShared } from '../helpers/shared.ts';

describe.skipIf(skipUnlessShared('the shared MobileNetV2'))('the init warm-up (classifier.ts)', () => {
  afterEach(() => vi.restoreAllMocks());

  /** The session runs during createClassifier, and the classifier. */
  async function runsAtInit(warmUpInference: boolean) {
    const dir = await importSharedModel('mobilenetv2-int8');
    // InferenceSession is a class at run time (its type is the factory's).
    const sessions = (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype;
    const run = vi.spyOn(sessions, 'run');
    const classifier = await createClassifier(dir, { threads: 1, warmUpInference });
    const runs = run.mock.calls.length;
    run.mockRestore();
    return { runs, classifier };
  }

  it('runs no inference by default (an on-demand cold start answers sooner without it)', async () => {
    const { runs, classifier } = await runsAtInit(false);
    expect(runs).toBe(0);
    await classifier.release();
  });

  it('runs one inference when asked (provisioned concurrency), on the warm-up image', async () => {
    const { runs, classifier } = await runsAtInit(true);
    expect(runs).toBe(1);
    await classifier.release();
  });
});
