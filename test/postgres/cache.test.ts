/**
 * The session cache over PostgreSQL (`new SessionCache({ store })`): the files on disk, the
 * metadata rows, market_data, the audit log and the lock on a real server. Compared operation by
 * operation with the same cache over SQLite on the real TDX export; repairs after a crash; a
 * failure on the server rolling the whole write back; two writer processes; refusals.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, readFileSync, unlinkSync } from "node:fs";
import { SQL } from "bun";
import { openDatabase, openStore, StorageError, ValidationError, type Store } from "../../src/mod.ts";
import { SessionCache } from "../../src/cache/session-cache.ts";
import type { CacheRecoveryEvent } from "../../src/domain/cache.ts";
import { createSqliteStore } from "../../src/sqlite/store.ts";
import { randomBars } from "../support/bars.ts";
import { cacheFilePath, expectMetadataTrue, expectSameBars } from "../support/cache-invariants.ts";
import { spawnCacheWriter, writerBatch } from "../support/cache-writer.ts";
import { tempDir } from "../support/files.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";
import { readTdxBars, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";

const available = await postgresAvailable();
const dir = tempDir("tradelite-pg-cache-");
const databases: TestDatabase[] = [];
const stores: Store[] = [];
const T0 = Date.UTC(2024, 0, 2, 1, 31);

afterAll(async () => {
  for (const store of stores) await store.close();
  for (const database of databases) await database.drop().catch(() => {});
  dir.cleanup();
});

async function freshStore(label: string, options: { timezone?: string; actor?: string } = {}): Promise<{ store: Store; url: string }> {
  const database = await createTestDatabase(label);
  databases.push(database);
  const store = await openStore({ backend: "postgres", url: database.url, ...options });
  stores.push(store);
  return { store, url: database.url };
}

describe.skipIf(!available)("the session cache over PostgreSQL", () => {
  test("the same calls as over SQLite give the same files byte for byte, the same rows, reads and audit entries (real TDX export)", async () => {
    const tdx = await readTdxBars(TDX_INDEX_1MIN);
    const { store: pg } = await freshStore("same", { timezone: "Asia/Shanghai", actor: "feed" });
    const sqlite = openDatabase({ path: dir.file("same.db"), timezone: "Asia/Shanghai", actor: "feed" });
    const settings = { compactEvery: 7, maxRows: 5_000, retentionDays: 10 };
    const caches = {
      sqlite: new SessionCache({ store: createSqliteStore(sqlite), dir: dir.file("same-sqlite"), ...settings }),
      pg: new SessionCache({ store: pg, dir: dir.file("same-pg"), ...settings }),
    };
    expect(caches.pg.backend).toBe("postgres");
    try {
      const symbol = "000001.SH";
      // Sessions in order, then a re-sent stretch with other closes (later wins), then a backfill.
      const batches = Array.from({ length: 30 }, (_, i) => tdx.slice(i * 800, (i + 1) * 800));
      batches.push(tdx.slice(23_000, 23_100).map((bar) => ({ ...bar, close: bar.low })));
      batches.push(tdx.slice(100, 130));
      let compactions = 0;
      for (const batch of batches) {
        const fromSqlite = await caches.sqlite.storeBars(symbol, batch);
        const fromPg = await caches.pg.storeBars(symbol, batch, { actor: "feed" });
        expect(fromPg).toEqual(fromSqlite);
        if (fromPg.compacted) compactions++;
      }
      expect(compactions).toBe(4);
      expect(readFileSync(cacheFilePath(caches.pg, symbol))).toEqual(readFileSync(cacheFilePath(caches.sqlite, symbol)));
      const [rowPg, rowSqlite] = [await caches.pg.stats(symbol), await caches.sqlite.stats(symbol)];
      const timeless = (row: typeof rowPg) => ({ ...row, last_updated: 0, last_compacted: row?.last_compacted === null ? null : 0 });
      expect(timeless(rowPg)).toEqual(timeless(rowSqlite));
      // Retention (10 days) and compaction kept a window of the 24,000 bars.
      expect(rowPg!.row_count).toBeLessThan(5_000);
      expect(rowPg!.covered_from).toBeGreaterThan(Date.parse("2023-01-01"));
      await expectMetadataTrue(caches.pg, symbol, pg);

      // Reads inside the file's cover, straddling its start (the older part from market_data), and before it.
      const covered = rowPg!.covered_from!;
      for (const range of [{}, { start: covered }, { start: covered - 3 * 86_400_000, end: covered + 3_600_000 }, { end: covered - 1 }, { start: "2023-12-01 09:31", end: "2023-12-01 15:00" }]) {
        const fromPg = await caches.pg.getBars(symbol, range);
        expectSameBars(fromPg, await caches.sqlite.getBars(symbol, range));
        expectSameBars(fromPg, await pg.getBars(symbol, range));
      }
      expect((await caches.pg.list()).map((row) => row.symbol)).toEqual([symbol]);

      const actions = (entries: { action: string; entity: string | null; actor: string; details: unknown }[]) =>
        entries.map(({ action, entity, actor, details }) => ({ action, entity, actor, details }));
      expect(actions(await pg.audit.query())).toEqual(actions(await Promise.resolve(sqlite.audit.query())));
      expect(await pg.audit.verify()).toMatchObject({ ok: true });
    } finally {
      sqlite.close();
    }
  });

  test("repairs: an unacknowledged tail is cut off, a lost file is rebuilt from market_data, a write beside the cache resyncs; each repair is a metric and an audit entry on the server", async () => {
    const { store } = await freshStore("repair");
    const cacheDir = dir.file("repair");
    const symbol = "600519.SH";
    const first = new SessionCache({ store, dir: cacheDir, compactEvery: 1_000 });
    for (let i = 0; i < 5; i++) await first.storeBars(symbol, randomBars(Array.from({ length: 50 }, (_, k) => T0 + (i * 50 + k) * 60_000), i + 1));
    const path = cacheFilePath(first, symbol);
    const events: CacheRecoveryEvent[] = [];
    const onRecovery = (event: CacheRecoveryEvent) => events.push(event);

    // A crash between an append and its commit: bytes the row does not describe.
    appendFileSync(path, "2024-01-02T09:00:00.000Z,1,1,1,1,1,1\n2024-01-02T09:01");
    const second = new SessionCache({ store, dir: cacheDir, onRecovery });
    expectSameBars(await second.getBars(symbol), await store.getBars(symbol));
    expect(events.map((event) => [event.kind, event.droppedLines])).toEqual([["unacknowledged-tail-dropped", 2]]);
    await expectMetadataTrue(second, symbol, store);

    // The file lost: rebuilt from market_data by the next instance.
    unlinkSync(path);
    const third = new SessionCache({ store, dir: cacheDir, onRecovery });
    expectSameBars(await third.getBars(symbol), await store.getBars(symbol));
    expect(events.at(-1)).toMatchObject({ kind: "rebuilt-from-database", reason: "the cache file is missing", rows: 250 });

    // market_data written beside the cache: reads follow it at once (from market_data), and the
    // next write rebuilds the file from it before appending.
    const extra = randomBars([T0 + 250 * 60_000], 99);
    await store.insertBars(symbol, extra);
    const withExtra = await third.getBars(symbol);
    expect(withExtra).toHaveLength(251);
    expectSameBars(withExtra, await store.getBars(symbol));
    await third.storeBars(symbol, randomBars([T0 + 251 * 60_000], 100));
    expect(events.at(-1)).toMatchObject({ kind: "resynced-with-database", rows: 251 });
    expectSameBars(await third.getBars(symbol), await store.getBars(symbol));
    await expectMetadataTrue(third, symbol, store);

    const metrics = await store.metrics.query("session_cache.recovery");
    expect(metrics.map((metric) => metric.labels.kind)).toEqual(["unacknowledged-tail-dropped", "rebuilt-from-database", "resynced-with-database"]);
    const repairs = await store.audit.query({ action: "cache.repair" });
    expect(repairs.map((entry) => (entry.details as { kind: string }).kind)).toEqual(["unacknowledged-tail-dropped", "rebuilt-from-database", "resynced-with-database"]);
    expect(await store.audit.verify()).toMatchObject({ ok: true });
  });

  test("a failure on the server rolls the whole write back: no bars, the row and the audit log as they were, the file cut back to what its row says", async () => {
    const { store, url } = await freshStore("rollback");
    const cache = new SessionCache({ store, dir: dir.file("rollback") });
    const symbol = "000002.SZ";
    await cache.storeBars(symbol, randomBars(Array.from({ length: 100 }, (_, k) => T0 + k * 60_000), 1));
    const admin = new SQL({ url, max: 1 });
    try {
      // A fault only the server can cause: the row's update refused once the file passes 150 rows.
      await admin.unsafe(`
        CREATE FUNCTION refuse_big() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.row_count > 150 THEN RAISE EXCEPTION 'injected: row_count %', NEW.row_count; END IF; RETURN NEW; END $$;
        CREATE TRIGGER refuse_big BEFORE UPDATE ON session_cache FOR EACH ROW EXECUTE FUNCTION refuse_big();`);
      const before = { row: await cache.stats(symbol), file: readFileSync(cacheFilePath(cache, symbol)), bars: await store.getBars(symbol), head: await store.audit.head() };
      const error = await cache.storeBars(symbol, randomBars(Array.from({ length: 60 }, (_, k) => T0 + (100 + k) * 60_000), 2)).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).code).toBe("PG_P0001");
      expect(await cache.stats(symbol)).toEqual(before.row);
      expect(readFileSync(cacheFilePath(cache, symbol))).toEqual(before.file);
      expectSameBars(await store.getBars(symbol), before.bars);
      expect(await store.audit.head()).toEqual(before.head);

      await admin.unsafe("DROP TRIGGER refuse_big ON session_cache");
      expect(await cache.storeBars(symbol, randomBars(Array.from({ length: 60 }, (_, k) => T0 + (100 + k) * 60_000), 2))).toEqual({ written: 60, compacted: false });
      await expectMetadataTrue(cache, symbol, store);
      expect(await cache.getBars(symbol)).toHaveLength(160);
    } finally {
      await admin.close();
    }
  });

  test("two writer processes on one symbol: every acknowledged bar in the file and in market_data, the row true, the audit chain whole", async () => {
    const { store, url } = await freshStore("writers");
    const cacheDir = dir.file("writers");
    const startFile = dir.file("writers-go");
    const common = { dbPath: "", postgresUrl: url, cacheDir, symbol: "600000.SH", batchSize: 20, base: T0, stepMs: 60_000, compactEvery: 5, writeThrough: true, startFile, pauseMs: 2 };
    const writers = [
      spawnCacheWriter({ ...common, ids: Array.from({ length: 15 }, (_, i) => i * 2) }),
      spawnCacheWriter({ ...common, ids: Array.from({ length: 15 }, (_, i) => i * 2 + 1) }),
    ];
    await Promise.all(writers.map((writer) => writer.waitForReady()));
    await Bun.write(startFile, "go");
    const reports = await Promise.all(writers.map((writer) => writer.finished));
    for (const report of reports) {
      expect(report.stderr).toBe("");
      expect(report.exitCode).toBe(0);
      expect(report.acks).toHaveLength(15);
    }
    const cache = new SessionCache({ store, dir: cacheDir, compactEvery: 5 });
    const expected = Array.from({ length: 30 }, (_, id) => writerBatch(common, id)).flat();
    expectSameBars(await store.getBars("600000.SH"), expected);
    expectSameBars(await cache.getBars("600000.SH"), expected);
    const row = await expectMetadataTrue(cache, "600000.SH", store);
    expect(row.row_count).toBeGreaterThanOrEqual(600);
    expect(reports[0]!.compactions + reports[1]!.compactions).toBeGreaterThanOrEqual(5);
    const verified = await store.audit.verify();
    expect(verified.ok).toBe(true);
    // The writes through are rolled up (per compaction, the rest by rollUp()), all credited to the writers.
    await store.audit.rollUp();
    const rollups = (await store.audit.query()).flatMap((entry) => {
      const rollup = entry.action === "bars.rollup" ? entry.details : (entry.details as { rollup?: unknown } | null)?.rollup;
      return rollup ? [{ actor: entry.actor, rows: (rollup as { rows: number }).rows }] : [];
    });
    expect(new Set(rollups.map((each) => each.actor))).toEqual(new Set(["cache-writer"]));
    expect(rollups.reduce((sum, each) => sum + each.rows, 0)).toBe(expected.length);
    expect(await store.audit.verifyRollups()).toMatchObject({ ok: true, pending: 0 });
  });

  test("a server whose default isolation is REPEATABLE READ: a writer that waited for the lock sees what the previous one committed (nothing is cut off); audited writes from two stores all land", async () => {
    const database = await createTestDatabase("isolation");
    databases.push(database);
    const admin = new SQL({ url: database.url, max: 1 });
    try {
      await admin.unsafe(`ALTER DATABASE ${new URL(database.url).pathname.slice(1)} SET default_transaction_isolation = 'repeatable read'`);
      const [a, b] = [await openStore({ backend: "postgres", url: database.url }), await openStore({ backend: "postgres", url: database.url })];
      stores.push(a, b);
      const options = { dir: dir.file("isolation"), writeThrough: false, compactEvery: 1_000 };
      const [first, second] = [new SessionCache({ store: a, ...options }), new SessionCache({ store: b, ...options })];
      const symbol = "RR";
      await first.storeBars(symbol, randomBars([T0, T0 + 60_000], 1));
      await second.stats(symbol);
      // The first writer holds the lock a while (a slow row update); the second waits for it meanwhile.
      await admin.unsafe(`
        CREATE FUNCTION slow_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.5); RETURN NEW; END $$;
        CREATE TRIGGER slow_row BEFORE UPDATE ON session_cache FOR EACH ROW WHEN (NEW.row_count = 4) EXECUTE FUNCTION slow_row();`);
      const events: CacheRecoveryEvent[] = [];
      const slow = first.storeBars(symbol, randomBars([T0 + 120_000, T0 + 180_000], 2));
      await Bun.sleep(150);
      const waiting = new SessionCache({ store: b, ...options, onRecovery: (event) => events.push(event) }).storeBars(symbol, randomBars([T0 + 240_000], 3));
      expect(await slow).toEqual({ written: 2, compacted: false });
      expect(await waiting).toEqual({ written: 1, compacted: false });
      expect(events).toEqual([]);
      expect((await first.getBars(symbol)).map((bar) => bar.timestamp)).toEqual([0, 1, 2, 3, 4].map((k) => T0 + k * 60_000));
      await expectMetadataTrue(first, symbol, a);

      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).prefs.set(`k${i}`, i)));
      expect(await a.prefs.all()).toHaveLength(20);
      expect(await a.audit.verify()).toMatchObject({ ok: true });
    } finally {
      await admin.close();
    }
  });

  test("refusals: a closed store is CLOSED; a store that carries no cache backend is a validation error", async () => {
    const { store } = await freshStore("refuse");
    const cache = new SessionCache({ store, dir: dir.file("refuse") });
    expect(cache.store).toBe(store);
    // A hand-made Store (here the methods copied onto a plain object) has no cache backend to lend.
    const handMade = Object.fromEntries(Object.entries(store)) as unknown as Store;
    expect(() => new SessionCache({ store: handMade, dir: dir.file("copy") })).toThrow(ValidationError);
    // A view's actor is the cache's default actor.
    const viewCache = new SessionCache({ store: store.withActor("desk-7"), dir: dir.file("refuse") });
    await viewCache.storeBars("AAA", randomBars([T0], 1));
    await store.audit.rollUp();
    expect((await store.audit.query({ action: "bars.rollup" })).map((entry) => entry.actor)).toEqual(["desk-7"]);
    await store.close();
    for (const call of [() => cache.storeBars("AAA", randomBars([T0 + 60_000], 2)), () => cache.getBars("AAA"), () => cache.stats("AAA"), () => cache.compact("AAA")]) {
      const error = await call().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).code).toBe("CLOSED");
    }
  });
});
