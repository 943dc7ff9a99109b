/** The in-memory LabelIndex fake (test/helpers/memory-index.ts) holds to the LabelIndex contract. */
import { labelIndexContract } from '../helpers/index-contract.ts';
import { MemoryIndex } from '../helpers/memory-index.ts';

labelIndexContract('MemoryIndex (fake)', { index: async () => new MemoryIndex() });
