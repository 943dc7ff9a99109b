/**
 * The default `npm run model:build` path end to end (no source flag): a replica of the zoo's
 * resnet18-v1-7.onnx graph (models/zoo-resnet18.ts, random weights) and the pinned calibration
 * photos are served from a loopback HTTP server; a temporary lock file pins the replica's size and
 * sha256 and points the defaults there. Checks pinned-hash verification, refusal of a size or hash
 * mismatch, the cache (a second build fetches nothing), and both weight storages.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel, type PhotoSet } from '../../models/build.ts';
import { countOps, decodeModel } from '../../models/onnx.ts';
import { compareStorages } from '../../models/storage.ts';
import { buildZooResNet18Replica, ZOO_RESNET18 } from '../../models/zoo-resnet18.ts';
import { createClassifier } from '../../src/classifier/classifier.ts';
import { loadModelFolder, verifyModelHash } from '../../src/classifier/model-folder.ts';
import { photo, ROOT, SHARED, skipUnlessShared } from '../helpers/shared.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const ZOO_BYTES = 46_820_737;

describe.skipIf(skipUnlessShared('the default model:build test (calibration photos)'))(
  'npm run model:build with no source flag (zoo ResNet-18 replica on loopback)',
  () => {
    let dir: string;
    let server: Server;
    let base: string;
    let replica: Uint8Array;
    let labels: Uint8Array;
    const requests = new Map<string, number>();
    const total = () => [...requests.values()].reduce((a, b) => a + b, 0);
    // The repository's pinned list (metadata); its photos are ../shared/photos, the same bytes.
    const photoSet = JSON.parse(
      readFileSync(join(ROOT, 'models/calibration-photos.json'), 'utf8'),
    ) as PhotoSet;

    const lock = (pin: { bytes: number; sha256: string }) => ({
      defaults: {
        source: `${base}/model/resnet18-v1-7.onnx`,
        name: 'resnet18',
        labels: `${base}/labels.json`,
        calibration: 'calibration-photos.json',
      },
      files: {
        [`${base}/model/resnet18-v1-7.onnx`]: { ...pin, licence: 'Apache-2.0 (test replica)' },
        [`${base}/labels.json`]: { bytes: labels.length, sha256: sha(labels) },
      },
    });
    const writeLock = (pin: { bytes: number; sha256: string }) =>
      writeFile(join(dir, 'lock.json'), JSON.stringify(lock(pin)));
    const options = (out: string) => ({
      lockFile: join(dir, 'lock.json'),
      cacheDir: join(dir, 'cache'),
      out: join(dir, out),
      log: () => {},
    });

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'default-build-'));
      replica = await buildZooResNet18Replica();
      labels = await readFile(join(SHARED, 'data/imagenet-simple-labels.json'));
      const byPath = new Map(photoSet.files.map((f) => [f.path, f.file]));
      server = createServer((req, res) => {
        const url = req.url ?? '';
        requests.set(url, (requests.get(url) ?? 0) + 1);
        if (url === '/model/resnet18-v1-7.onnx')
          res.writeHead(200, { 'content-length': replica.length }).end(replica);
        else if (url === '/labels.json') res.end(labels);
        else if (url.startsWith('/photos/') && byPath.has(url.slice(8)))
          readFile(photo(byPath.get(url.slice(8)) as string)).then(
            (b) => res.end(b),
            () => res.writeHead(500).end(),
          );
        else res.writeHead(404).end();
      });
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await writeFile(
        join(dir, 'calibration-photos.json'),
        JSON.stringify({ ...photoSet, urlTemplate: `${base}/photos/{path}` }),
      );
    }, 120_000);
    afterAll(async () => {
      server?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('the replica has the zoo file graph: ops, opset, IR, names and (almost) its size', () => {
      const m = decodeModel(replica);
      expect(countOps(m)).toEqual({
        Conv: 20,
        BatchNormalization: 20,
        Relu: 17,
        MaxPool: 1,
        Add: 8,
        GlobalAveragePool: 1,
        Flatten: 1,
        Gemm: 1,
      });
      expect(Number(m.irVersion)).toBe(3);
      expect(m.opsetImport?.map((o) => [o.domain, Number(o.version)])).toEqual([['', 8]]);
      expect(m.graph?.input?.[0]?.name).toBe('data');
      expect(m.graph?.input).toHaveLength(1 + (m.graph?.initializer?.length ?? 0)); // IR 3 style
      expect(m.graph?.output?.[0]?.name).toBe(ZOO_RESNET18.outputName);
      expect(m.graph?.node?.every((n) => n.opType !== 'Conv' || n.input?.length === 2)).toBe(true);
      // Same tensors and shapes as the zoo file: the sizes differ only by names and producer strings.
      expect(Math.abs(replica.length - ZOO_BYTES)).toBeLessThan(1000);
    });

    it('refuses a download whose size or sha256 differs from the pin, and caches nothing', async () => {
      await writeLock({ bytes: replica.length, sha256: '0'.repeat(64) });
      await expect(buildModel(options('bad-hash'))).rejects.toThrow(
        `sha256 mismatch for ${base}/model/resnet18-v1-7.onnx: got ${sha(replica)}`,
      );
      await writeLock({ bytes: replica.length + 1, sha256: sha(replica) });
      await expect(buildModel(options('bad-size'))).rejects.toThrow(
        /size mismatch for .*resnet18-v1-7\.onnx/,
      );
      expect(requests.get('/model/resnet18-v1-7.onnx')).toBe(2);
      const cached = join(dir, 'cache', 'downloads', `${sha(replica).slice(0, 16)}-resnet18-v1-7.onnx`);
      expect(existsSync(cached)).toBe(false);
    });

    it('without network, names the cache file that a copy fetched by hand can be put in', async () => {
      const offline = lock({ bytes: replica.length, sha256: sha(replica) });
      const url = 'http://127.0.0.1:9/resnet18-v1-7.onnx'; // closed port: fails like no network
      offline.defaults.source = url;
      offline.files = { [url]: { bytes: replica.length, sha256: sha(replica) }, ...offline.files };
      await writeFile(join(dir, 'lock.json'), JSON.stringify(offline));
      const cached = join(dir, 'cache', 'downloads', `${sha(replica).slice(0, 16)}-resnet18-v1-7.onnx`);
      await expect(buildModel(options('offline'))).rejects.toThrow(`or copy the file to ${cached}`);
    });

    it('builds the pinned default, both weight storages, then rebuilds from the cache without fetching', async () => {
      await writeLock({ bytes: replica.length, sha256: sha(replica) });
      const before = requests.get('/model/resnet18-v1-7.onnx') ?? 0;
      const first = await buildModel(options('first'));
      expect(requests.get('/model/resnet18-v1-7.onnx')).toBe(before + 1);
      const photoRequests = [...requests.keys()].filter((k) => k.startsWith('/photos/'));
      expect(photoRequests).toHaveLength(25);

      const folder = await loadModelFolder(first.outDir);
      await verifyModelHash(folder);
      const meta = folder.meta;
      expect(meta).toMatchObject({
        name: 'resnet18',
        inputName: 'data',
        outputName: ZOO_RESNET18.outputName,
        source: `${base}/model/resnet18-v1-7.onnx`,
        sourceSha256: sha(replica),
        licence: 'Apache-2.0 (test replica)',
        labelsMeaningful: true,
        weights: { s8: 'model.onnx', u8: 'model.u8.onnx' },
        quantization: {
          weightEncoding: 's8',
          optimizedOps: { QLinearConv: 20, QLinearAdd: 8, QGemm: 1 },
          calibration: {
            set: `${photoSet.repository}@${photoSet.commit}`,
            licence: photoSet.licence,
          },
        },
      });
      const images = (meta.quantization as { calibration: { images: unknown[] } }).calibration.images;
      expect(images).toHaveLength(25);
      expect((meta.agreement as { meanLogitCosine: number }).meanLogitCosine).toBeGreaterThan(0.99);

      // Two files, the same quantized values.
      const [s8, u8] = await Promise.all([
        readFile(join(first.outDir, 'model.onnx')),
        readFile(join(first.outDir, 'model.u8.onnx')),
      ]);
      expect(s8.equals(u8)).toBe(false);
      const same = compareStorages(new Uint8Array(s8), new Uint8Array(u8));
      expect(same.differences).toEqual([]);
      expect(same.reencoded).toBe(42); // 21 weights and their zero points

      const classifier = await createClassifier(first.outDir, { threads: 1 });
      try {
        const result = await classifier.classify(await readFile(photo('207-Golden-Retriever.jpg')), {
          topK: 3,
        });
        expect(result.labels).toHaveLength(3);
      } finally {
        await classifier.release();
      }

      // Second build: everything from the cache, not one request, the same int8 model.
      const fetched = total();
      const second = await buildModel(options('second'));
      expect(total()).toBe(fetched);
      expect((await loadModelFolder(second.outDir)).meta.sha256).toBe(meta.sha256);
    }, 300_000);
  },
);
