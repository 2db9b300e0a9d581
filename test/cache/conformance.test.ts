/**
 * The same SessionCache behaviour, `new SessionCache({ store, dir })`, over every backend: the
 * in-thread SQLite store, the sqlite-worker store (whose cache runs on a connection of its own on
 * this thread) and PostgreSQL. Each run stores bars (a re-sent minute, a backfill), reads them
 * back through the file, compacts by the count and by retention, reopens the cache, credits a
 * view's actor, follows a zone change, and refuses calls once the store is closed; the files the
 * three leave behind are the same bytes.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { SessionCache } from "../../src/entries/cache.ts";
import { openStore, StorageError, type StoreOptions } from "../../src/mod.ts";
import { randomBars } from "../support/bars.ts";
import { cacheFileBars, cacheFilePath, expectMetadataTrue, expectSameBars } from "../support/cache-invariants.ts";
import { tempDir } from "../support/files.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";

const dir = tempDir("tradelite-cache-conformance-");
const databases: TestDatabase[] = [];
const postgres = await postgresAvailable();
afterAll(async () => {
  for (const database of databases) await database.drop().catch(() => {});
  dir.cleanup();
});

const SYMBOL = "600519.SH";
const T0 = Date.UTC(2024, 0, 2, 1, 31);
const minute = (i: number) => T0 + i * 60_000;
const COMPACT_EVERY = 3;
const MAX_ROWS = 8;

/** The bytes of the symbol's file after the scenario, per backend, compared at the end. */
const files = new Map<string, Buffer>();

type Opener = (label: string) => Promise<StoreOptions>;
const backends: [string, Opener, boolean][] = [
  ["sqlite", async (label) => ({ backend: "sqlite", path: dir.file(`${label}.db`) }), true],
  ["sqlite-worker", async (label) => ({ backend: "sqlite-worker", path: dir.file(`${label}.db`), readers: 1 }), true],
  [
    "postgres",
    async (label) => {
      const database = await createTestDatabase(`cache_conf_${label}`);
      databases.push(database);
      return { backend: "postgres", url: database.url, max: 3 };
    },
    postgres,
  ],
];

for (const [name, optionsFor, available] of backends) {
  describe.skipIf(!available)(`SessionCache over ${name}`, () => {
    test("stores bars, reads them back through the file, compacts every compactEvery writes and by retention", async () => {
      const store = await openStore({ ...(await optionsFor(`${name}-main`)), timezone: "Asia/Shanghai" } as StoreOptions);
      const cacheDir = dir.file(`${name}-cache`);
      try {
        const cache = new SessionCache({ store, dir: cacheDir, compactEvery: COMPACT_EVERY, maxRows: MAX_ROWS });
        expect(cache.store).toBe(store);
        expect(cache.backend).toBe(name === "postgres" ? "postgres" : "sqlite");

        // Write 1 and 2 append; write 3 reaches compactEvery: de-duplicated (minute 4 re-sent
        // with another close, the later line wins), the backfill (minute 0) sorted in.
        const first = randomBars([1, 2, 3, 4].map(minute), 1);
        const resent = randomBars([4, 5, 6].map(minute), 2);
        const backfill = randomBars([0].map(minute), 3);
        expect(await cache.storeBars(SYMBOL, first)).toEqual({ written: 4, compacted: false });
        expect(await cache.storeBars(SYMBOL, resent)).toEqual({ written: 3, compacted: false });
        expect((await cache.stats(SYMBOL))!.row_count).toBe(7);
        expect(await cache.storeBars(SYMBOL, backfill)).toEqual({ written: 1, compacted: true });
        const expected = [...backfill, ...first.slice(0, 3), ...resent];
        expectSameBars(cacheFileBars(cache, SYMBOL), expected);
        expectSameBars(await cache.getBars(SYMBOL), expected);
        expectSameBars(await store.getBars(SYMBOL), expected);
        const row = await expectMetadataTrue(cache, SYMBOL);
        expect(row.row_count).toBe(7);
        expect(row.writes_since_compaction).toBe(0);

        // Past maxRows, a compaction keeps the newest MAX_ROWS rows; market_data keeps them all.
        await cache.storeBars(SYMBOL, randomBars([7, 8, 9].map(minute), 4));
        const compacted = await cache.compact(SYMBOL);
        expect(compacted).toMatchObject({ rowsBefore: 10, rowsAfter: MAX_ROWS });
        const kept = (await store.getBars(SYMBOL)).slice(-MAX_ROWS);
        expectSameBars(cacheFileBars(cache, SYMBOL), kept);
        expect((await store.getBars(SYMBOL)).length).toBe(10);
        // A range inside the file and one reaching before it: both equal to the store's.
        expectSameBars(await cache.getBars(SYMBOL, { start: minute(5), end: minute(8) }), await store.getBars(SYMBOL, { start: minute(5), end: minute(8) }));
        expectSameBars(await cache.getBars(SYMBOL, { start: minute(0), end: minute(3) }), await store.getBars(SYMBOL, { start: minute(0), end: minute(3) }));
        await expectMetadataTrue(cache, SYMBOL);

        // Another instance over the same store and folder (a restart) verifies the file and serves it.
        const reopened = new SessionCache({ store, dir: cacheDir, compactEvery: COMPACT_EVERY, maxRows: MAX_ROWS });
        expectSameBars(await reopened.getBars(SYMBOL, { start: minute(2) }), kept);
        expect((await reopened.list()).map((entry) => entry.symbol)).toEqual([SYMBOL]);
        files.set(name, readFileSync(cacheFilePath(cache, SYMBOL)));
      } finally {
        await store.close();
      }
    });

    test("with normalizeSymbols on, every spelling is one file, one row and one key in market_data", async () => {
      const store = await openStore({ ...(await optionsFor(`${name}-normalize`)), timezone: "Asia/Shanghai" } as StoreOptions);
      try {
        await store.updateSettings({ normalizeSymbols: true });
        const cache = new SessionCache({ store, dir: dir.file(`${name}-normalize-cache`) });
        const bars = randomBars([minute(0), minute(1), minute(2)], 11);
        expect((await cache.storeBars("sh600519", bars.slice(0, 2))).written).toBe(2);
        expect((await cache.storeBars("600519.XSHG", bars.slice(2))).written).toBe(1);
        expectSameBars(await cache.getBars("SH600519"), bars);
        expectSameBars(await store.getBars(SYMBOL), bars);
        expect((await cache.list()).map((entry) => entry.symbol)).toEqual([SYMBOL]);
        expect((await cache.stats("sh.600519"))?.row_count).toBe(3);
        expect((await cache.compact("600519")).rowsAfter).toBe(3);
        expect(await cache.storeBars("BTC/USDT", bars).catch((error: unknown) => (error as Error).name)).toBe("ValidationError");
      } finally {
        await store.close();
      }
    });

    test("a view's actor is credited, a zone change is followed, and a closed store is CLOSED", async () => {
      const store = await openStore({ ...(await optionsFor(`${name}-views`)), timezone: "Asia/Shanghai" } as StoreOptions);
      const cache = new SessionCache({ store: store.withActor("desk-7"), dir: dir.file(`${name}-views-cache`), writeThrough: false });
      try {
        await cache.storeBars("S", [{ timestamp: "2024-01-15 09:31", open: 1, high: 1, low: 1, close: 1 }]);
        await cache.storeBars("S", [{ timestamp: "2024-01-15 09:32", open: 1, high: 1, low: 1, close: 1 }], { actor: "feed" });
        expect((await store.audit.query({ action: "cache.store" })).map((entry) => entry.actor)).toEqual(["desk-7", "feed"]);

        await store.updateSettings({ timezone: "America/New_York" });
        await cache.storeBars("S", [{ timestamp: "2024-01-15 09:31", open: 2, high: 2, low: 2, close: 2 }]);
        // The first naive times were Shanghai's, the last New York's; the date is a New York day now.
        const bars = await cache.getBars("S", { start: "2024-01-15", end: "2024-01-15" });
        expect(bars.map((bar) => [bar.timestamp, bar.open])).toEqual([[Date.UTC(2024, 0, 15, 14, 31), 2]]);
      } finally {
        await store.close();
      }
      for (const call of [() => cache.storeBars("S", randomBars([T0], 5)), () => cache.getBars("S"), () => cache.stats("S"), () => cache.compact("S")]) {
        const error = await call().catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(StorageError);
        expect((error as StorageError).code).toBe("CLOSED");
      }
    });
  });
}

test("every backend left the same file, byte for byte", () => {
  const expected = backends.filter(([, , available]) => available).map(([name]) => name);
  expect([...files.keys()]).toEqual(expected);
  const [first, ...rest] = [...files.values()];
  for (const bytes of rest) expect(bytes.equals(first!)).toBe(true);
});
