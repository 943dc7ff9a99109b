/**
 * The image routes' ports made on first use. Wiring, so it sits with the handlers: the AWS SDK
 * clients, the presigners and the DynamoDB adapter (./image-ports.ts, imported by src/handlers/api.ts
 * when a request first needs them: an image route, or the page's CSP) load then, not at init, so
 * POST /classify and /health keep the cold start they had without them. The image routes
 * (src/http/images.ts) see ready ports and never call back into handlers/.
 */
import type { ImagePorts, ImageRoutesConfig } from '../http/images.ts';
import type { ImageSettings } from '../settings.ts';

/** The image routes' configuration whose ports `load` makes on first use; a failed load is tried again by the next request. */
export function lazyImages(settings: ImageSettings, load: () => Promise<ImagePorts>): ImageRoutesConfig {
  let ports: Promise<ImagePorts> | undefined;
  const get = () =>
    (ports ??= load().catch((err: unknown) => {
      ports = undefined;
      throw err;
    }));
  return {
    bucket: settings.bucket,
    prefix: settings.prefix,
    suffixes: settings.suffixes,
    index: {
      search: async (...args) => (await get()).index.search(...args),
      get: async (...args) => (await get()).index.get(...args),
      copyGroupsOf: async (...args) => (await groupsOf(await get())).copyGroupsOf(...args),
      copyGroup: async (...args) => (await groupsOf(await get())).copyGroup(...args),
      copyGroups: async (...args) => (await groupsOf(await get())).copyGroups(...args),
    },
    store: {
      getTags: async (...args) => (await get()).store.getTags(...args),
      get: async (...args) => (await get()).store.get(...args),
    },
    signer: {
      presignPost: async (...args) => (await get()).signer.presignPost(...args),
      presignGet: async (...args) => (await get()).signer.presignGet(...args),
      origin: async () => (await get()).signer.origin(),
    },
    ...(settings.vectors
      ? {
          vectors: {
            get: async (...args) => (await vectorsOf(await get())).get(...args),
            query: async (...args) => (await vectorsOf(await get())).query(...args),
          },
        }
      : {}),
  };
}

const vectorsOf = async (ports: ImagePorts) => {
  if (!ports.vectors) throw new Error('the image ports have no vector index although VECTOR_INDEX is set');
  return ports.vectors;
};

/** The label index's groups of copies (the DynamoDB adapter always has them). */
const groupsOf = async ({ index }: ImagePorts) => {
  const { copyGroupsOf, copyGroup, copyGroups } = index;
  if (!copyGroupsOf || !copyGroup || !copyGroups)
    throw new Error('the label index records no groups of copies');
  return {
    copyGroupsOf: copyGroupsOf.bind(index),
    copyGroup: copyGroup.bind(index),
    copyGroups: copyGroups.bind(index),
  };
};
