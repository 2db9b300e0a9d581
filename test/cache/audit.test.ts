import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { cacheFileName } from "../../src/cache/file-name.ts";
import { SessionCache } from "../../src/cache/session-cache.ts";
import { createSqliteStore } from "../../src/sqlite/store.ts";
import { randomBars } from "../support/bars.ts";
import { closeCacheFixtures, openCacheFixture } from "../support/cache-fixture.ts";

afterEach(closeCacheFixtures);

const T0 = Date.UTC(2024, 0, 2, 1, 31);
const bars = (from: number, count: number) => randomBars(Array.from({ length: count }, (_, k) => T0 + (from + k) * 60_000), from + 1);

test("the cache's stores, compactions, rebuilds and repairs are in the audit log, with counts and ranges", async () => {
  const fx = openCacheFixture({ compactEvery: 2 });
  await fx.cache.storeBars("S", bars(0, 3));
  await fx.cache.storeBars("S", bars(3, 2));
  await fx.cache.rebuild("S");
  await Bun.write(join(fx.cacheDir, cacheFileName("S")), "damaged");
  await new SessionCache({ store: createSqliteStore(fx.db), dir: fx.cacheDir }).getBars("S");
  const entries = fx.db.audit.query().filter((entry) => entry.action.startsWith("cache.") || entry.action === "bars.insert");
  expect(entries.map((entry) => entry.action)).toEqual([
    "cache.rebuild", // the new file, seeded from market_data
    "bars.insert", // with write-through, the write itself is the bars.insert entry
    "bars.insert",
    "cache.compact",
    "cache.rebuild",
    "cache.rebuild", // the repair rebuilds ...
    "cache.repair", // ... and says why
  ]);
  expect(entries[1]).toMatchObject({ entity: "S", details: { rows: 3, start: T0, end: T0 + 2 * 60_000 } });
  expect(entries[3]!.details).toMatchObject({ rowsBefore: 5, rowsAfter: 5 });
  expect(entries[6]!.details).toMatchObject({ kind: "rebuilt-from-database", rows: 5 });
  expect(fx.db.audit.verify()).toEqual({ ok: true, checked: fx.db.audit.query().length });
  expect(JSON.stringify(entries)).not.toContain(String(bars(0, 1)[0]!.close));
});

test("without write-through each store is a cache.store entry of its own", async () => {
  const fx = openCacheFixture({ writeThrough: false });
  await fx.cache.storeBars("S", bars(0, 2));
  const stores = fx.db.audit.query({ action: "cache.store" });
  expect(stores).toHaveLength(1);
  expect(stores[0]).toMatchObject({ entity: "S", details: { rows: 2, start: T0, end: T0 + 60_000 } });
  expect(fx.db.audit.query({ action: "bars.insert" })).toEqual([]);
});
