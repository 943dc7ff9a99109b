/** The ObjectStore contract (test/helpers/object-store-contract.ts) against the in-memory fake. */
import { MemoryStore } from '../helpers/fakes.ts';
import { objectStoreContract } from '../helpers/object-store-contract.ts';

const store = new MemoryStore();
objectStoreContract('the in-memory fake (MemoryStore)', () => ({
  store,
  bucket: 'photos',
  put: async (key, bytes, tags) => store.put('photos', key, bytes, tags),
  delete: async (key) => store.delete('photos', key),
}));
