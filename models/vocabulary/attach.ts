/**
 * Gives a model folder the ImageNet-1k vocabulary when its labels are the ImageNet-1k list the
 * vocabulary was made for (1000 labels, equal to it); other folders get none (and lose a stale one),
 * and work as before. Used by `model:build` and `model:import`; refreshVocabulary keeps a folder's
 * copy equal to the committed one for `npm start` and `npm run package`.
 */
import { copyFile, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  fitsLabels,
  VOCABULARY_FILE,
  VOCABULARY_LICENSE_FILE,
  type Vocabulary,
} from '../../src/classifier/vocabulary.ts';
import { formatModelRef } from '../../src/tagging/tags.ts';
import { VOCABULARY_DIR } from './generate.ts';

/** Returns "<name>@<version>" of the vocabulary written, or null when the labels are not ImageNet-1k. */
export async function addVocabulary(dir: string, labels: readonly string[]): Promise<string | null> {
  const source = join(VOCABULARY_DIR, VOCABULARY_FILE);
  const vocabulary = JSON.parse(await readFile(source, 'utf8')) as Vocabulary;
  const files = [VOCABULARY_FILE, VOCABULARY_LICENSE_FILE];
  if (!fitsLabels(vocabulary, labels)) {
    for (const f of files) await rm(join(dir, f), { force: true });
    return null;
  }
  for (const f of files) await copyFile(join(VOCABULARY_DIR, f), join(dir, f));
  return formatModelRef(vocabulary);
}

/**
 * A folder built before the committed vocabulary changed (a synonym added, a category mended) keeps
 * its old copy: this copies the committed one over it when they differ. Returns "<name>@<version>"
 * when it did, null otherwise (no vocabulary in the folder, or the same bytes).
 */
export async function refreshVocabulary(dir: string): Promise<string | null> {
  const held = await readFile(join(dir, VOCABULARY_FILE), 'utf8').catch(() => undefined);
  if (held === undefined) return null;
  if (held === (await readFile(join(VOCABULARY_DIR, VOCABULARY_FILE), 'utf8'))) return null;
  const labels = JSON.parse(await readFile(join(dir, 'labels.json'), 'utf8')) as string[];
  return addVocabulary(dir, labels);
}
