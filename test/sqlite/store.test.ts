import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "bun:test";
import { openStore, type Store } from "../../src/mod.ts";
import { SessionCache } from "../../src/entries/cache.ts";
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

describe("a session cache over the store (new SessionCache({ store }))", () => {
  test("writes through to the store's database, and its audit entries name a withActor view's actor", async () => {
    const store = await openStore({ backend: "sqlite", path: join(dir, "cache-store.db") });
    try {
      const bar = { timestamp: Date.UTC(2024, 0, 15, 1, 31), open: 1, high: 1, low: 1, close: 1, volume: 1, amount: 1 };
      const cache = new SessionCache({ store: store.withActor("recorder"), dir: join(dir, "cache-store") });
      expect(cache.backend).toBe("sqlite");
      expect(await cache.storeBars("S", [bar])).toEqual({ written: 1, compacted: false });
      expect(await store.getBars("S")).toEqual([bar]);
      await cache.compact("S");
      expect((await store.audit.query({ action: "cache.compact" })).map((entry) => entry.actor)).toEqual(["recorder"]);
    } finally {
      await store.close();
    }
  });
});
