import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { cacheFileName } from "../../src/cache/file-name.ts";
import { SessionCache } from "../../src/cache/session-cache.ts";
import { createSqliteStore } from "../../src/sqlite/store.ts";
import { barsDigest } from "../../src/mod.ts";
import { randomBars } from "../support/bars.ts";
import { closeCacheFixtures, openCacheFixture } from "../support/cache-fixture.ts";

afterEach(closeCacheFixtures);

const T0 = Date.UTC(2024, 0, 2, 1, 31);
const bars = (from: number, count: number) => randomBars(Array.from({ length: count }, (_, k) => T0 + (from + k) * 60_000), from + 1);

test("the cache's compactions, rebuilds and repairs are in the audit log; the writes through ride in the compaction's entry as one rollup", async () => {
  const fx = openCacheFixture({ compactEvery: 2 });
  await fx.cache.storeBars("S", bars(0, 3));
  await fx.cache.storeBars("S", bars(3, 2));
  await fx.cache.rebuild("S");
  await Bun.write(join(fx.cacheDir, cacheFileName("S")), "damaged");
  await new SessionCache({ store: createSqliteStore(fx.db), dir: fx.cacheDir }).getBars("S");
  const entries = fx.db.audit.query().filter((entry) => entry.action.startsWith("cache.") || entry.action.startsWith("bars."));
  expect(entries.map((entry) => entry.action)).toEqual([
    "cache.rebuild", // the new file, seeded from market_data
    "cache.compact", // the two writes through, rolled up in it
    "cache.rebuild",
    "cache.rebuild", // the repair rebuilds ...
    "cache.repair", // ... and says why
  ]);
  expect(entries[1]).toMatchObject({
    entity: "S",
    details: { rowsBefore: 5, rowsAfter: 5, rollup: { rows: 5, batches: 2, start: T0, end: T0 + 4 * 60_000, stored: 5, sha256: barsDigest(fx.db.getBars("S")).sha256 } },
  });
  expect(entries[4]!.details).toMatchObject({ kind: "rebuilt-from-database", rows: 5 });
  expect(fx.db.audit.verify()).toEqual({ ok: true, checked: fx.db.audit.query().length });
  expect(fx.db.audit.verifyRollups()).toEqual({ ok: true, checked: 1, pending: 0, mismatches: [] });
  expect(JSON.stringify(entries)).not.toContain(String(bars(0, 1)[0]!.close));
});

test("with the per-call grain (auditRollupMs 0) each write through is a bars.insert entry of its own", async () => {
  const fx = openCacheFixture({ compactEvery: 2, auditRollupMs: 0 });
  await fx.cache.storeBars("S", bars(0, 3));
  await fx.cache.storeBars("S", bars(3, 2));
  const entries = fx.db.audit.query().filter((entry) => entry.action !== "cache.rebuild");
  expect(entries.map((entry) => entry.action)).toEqual(["bars.insert", "bars.insert", "cache.compact"]);
  expect(entries[0]).toMatchObject({ entity: "S", details: { rows: 3, start: T0, end: T0 + 2 * 60_000 } });
  expect(entries[2]!.details).not.toHaveProperty("rollup");
});

test("without write-through each store is a cache.store entry of its own", async () => {
  const fx = openCacheFixture({ writeThrough: false });
  await fx.cache.storeBars("S", bars(0, 2));
  const stores = fx.db.audit.query({ action: "cache.store" });
  expect(stores).toHaveLength(1);
  expect(stores[0]).toMatchObject({ entity: "S", details: { rows: 2, start: T0, end: T0 + 60_000 } });
  expect(fx.db.audit.query({ action: "bars.insert" })).toEqual([]);
});
