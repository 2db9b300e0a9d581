import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "bun:test";
import { openStore, type Store } from "../../src/mod.ts";
import { storeConformance } from "../support/conformance.ts";

const dir = mkdtempSync(join(tmpdir(), "tradelite-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const paths = new WeakMap<Store, string>();
storeConformance(
  "sqlite (file)",
  async (options) => {
    const path = join(dir, `store-${++files}.db`);
    const store = await openStore({ backend: "sqlite", path, ...options });
    paths.set(store, path);
    return store;
  },
  (store, options) => openStore({ backend: "sqlite", path: paths.get(store)!, ...options }),
);
storeConformance("sqlite (:memory:)", (options) => openStore({ backend: "sqlite", path: ":memory:", ...options }));
