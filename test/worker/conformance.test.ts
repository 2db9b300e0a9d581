/**
 * The Store conformance suite, unchanged, on the sqlite-worker backend (a real file, a writer
 * worker and two reader workers), and with no readers (reads on the writer).
 */
import { afterAll } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { openStore, type Store } from "../../src/mod.ts";
import { storeConformance } from "../support/conformance.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-worker-conformance-");
afterAll(() => rmSync(dir.path, { recursive: true, force: true }));
let files = 0;

const paths = new WeakMap<Store, string>();
for (const [name, readers] of [["sqlite-worker (2 readers)", 2], ["sqlite-worker (reads on the writer)", 0]] as const) {
  storeConformance(
    name,
    async (options) => {
      const path = join(dir.path, `store-${++files}.db`);
      const store = await openStore({ backend: "sqlite-worker", readers, path, ...options });
      paths.set(store, path);
      return store;
    },
    (store, options) => openStore({ backend: "sqlite-worker", readers, path: paths.get(store)!, ...options }),
  );
}
