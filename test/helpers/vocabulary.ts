/** The committed ImageNet-1k vocabulary (models/vocabulary/vocabulary.json), as the unit tests read it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VOCABULARY_DIR } from '../../models/vocabulary/generate.ts';
import { VOCABULARY_FILE, type Vocabulary } from '../../src/classifier/vocabulary.ts';

export const committedVocabulary = (): Vocabulary =>
  JSON.parse(readFileSync(join(VOCABULARY_DIR, VOCABULARY_FILE), 'utf8')) as Vocabulary;
