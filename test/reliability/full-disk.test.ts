/**
 * A full disk. Two ways to get one on a real file:
 * - `PRAGMA max_page_count` on tradelite's own connection (see test/support/reliability-disk.ts
 *   for how the test reaches it): deterministic, any user;
 * - a 2 MiB tmpfs filled by a ballast file: a real ENOSPC from the kernel, root only (skipped,
 *   saying why, otherwise).
 * In every case a write that does not fit fails with a StorageError naming the condition,
 * nothing of its batch is written, what was there before reads back unchanged with
 * integrity_check ok, and once space is freed the same write succeeds. The sqlite-worker store
 * is covered on the tmpfs only: its connection lives in a worker thread the cap cannot reach.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { openDatabase, openStore, StorageError, type Database, type Store } from "../../src/mod.ts";
import { SessionCache } from "../../src/cache/session-cache.ts";
import { createApp } from "../../src/api/app.ts";
import { WORKER_RESTART_METRIC } from "../../src/worker/store.ts";
import type { CacheRecoveryEvent } from "../../src/domain/cache.ts";
import { createSqliteStore } from "../../src/sqlite/store.ts";
import { tempDir } from "../support/files.ts";
import { seriesBars } from "../support/interop-python.ts";
import {
  capPages,
  captureConnection,
  fillDisk,
  inspectWithPython,
  mountTmpfs,
  pragmaNumber,
  removeQuietly,
  uncap,
} from "../support/reliability-disk.ts";

/** 2024-01-02 01:31 UTC; bar i is one minute after bar i - 1. */
const BASE = Date.UTC(2024, 0, 2, 1, 31);

const dir = tempDir("tradelite-full-disk-");
const tmpfs = mountTmpfs(dir.file("tmpfs"), "2m");
const noTmpfs = tmpfs.unavailable !== null;
if (noTmpfs) console.log(`full-disk: tmpfs cases skipped: ${tmpfs.unavailable}`);

const figures = { cases: 0, passed: 0, skipped: 0 };

/** Declares a case and counts it as passed only if its body got to the end. */
function fullDiskCase(name: string, body: () => Promise<void> | void, skip = false): void {
  figures.cases++;
  if (skip) {
    figures.skipped++;
    test.skip(name, body);
    return;
  }
  test(name, async () => {
    await body();
    figures.passed++;
  });
}

afterAll(() => {
  tmpfs.unmount();
  dir.cleanup();
  const failed = figures.cases - figures.passed - figures.skipped;
  console.log(
    `full-disk: cases ${figures.cases}, passed ${figures.passed}, failed ${failed}, skipped ${figures.skipped}` +
      (noTmpfs ? ` (no tmpfs: ${tmpfs.unavailable})` : ""),
  );
});

/** The error `work` threw or rejected with (fails the test if it did neither). */
async function failure(work: () => unknown): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error("expected the write to fail, and it succeeded");
}

function expectFull(error: unknown): void {
  expect(error).toBeInstanceOf(StorageError);
  expect((error as StorageError).code).toBe("SQLITE_FULL");
  expect((error as StorageError).message).toMatch(/full/i);
}

/** `count` new bars of a symbol from bar index `from` on. */
function newBars(from: number, count: number) {
  return seriesBars(BASE, from, count);
}

/** Everything the database holds that a failed write could have touched. */
function snapshot(db: Database) {
  return {
    overview: db.overview(),
    bars: Object.fromEntries(db.overview().map(({ symbol }) => [symbol, db.getBars(symbol)])),
    quotes: db.getQuotes("KEEP"),
    audit: db.audit.head(),
  };
}

describe("max_page_count on tradelite's own connection", () => {
  fullDiskCase(
    "an insert that does not fit fails with SQLITE_FULL and writes none of its rows, not even its upserts; the same insert succeeds once the cap is raised",
    async () => {
      const { value: db, sqlite } = captureConnection(() => openDatabase({ path: dir.file("capped.db") }));
      try {
        db.insertBars("OLD", newBars(0, 3_000));
        db.insertBars("KEEP", newBars(0, 500));
        db.insertQuotes("KEEP", [{ timestamp: BASE, bid: 10, ask: 10.01, last: 10 }]);
        const before = snapshot(db);
        // A few pages of room: the batch's first statements fit, a later one does not.
        const cap = capPages(sqlite, 3);
        // 400 upserts of existing bars with a new close, then 20,000 new bars.
        const changed = newBars(0, 400).map((bar) => ({ ...bar, close: bar.open + 0.75 }));
        const batch = [...changed, ...newBars(500, 20_000)];

        expectFull(await failure(() => db.insertBars("KEEP", batch)));
        expect(snapshot(db)).toEqual(before);
        expect(db.audit.verify().ok).toBe(true);
        expect(pragmaNumber(sqlite, "page_count")).toBeLessThanOrEqual(cap);
        // Quotes hit the same wall the same way.
        const quotes = Array.from({ length: 20_000 }, (_, i) => ({ timestamp: BASE + (i + 1) * 60_000, bid: 10, ask: 10.01 }));
        expectFull(await failure(() => db.insertQuotes("KEEP", quotes)));
        expect(snapshot(db)).toEqual(before);
        // Reads, and the check (which records its run: a few rows that still fit), work at the cap.
        expect(db.maintenance.integrityCheck().ok).toBe(true);
        const independent = await inspectWithPython(db.path);
        expect(independent).toEqual({ integrity: "ok", counts: { KEEP: 500, OLD: 3_000 } });

        uncap(sqlite);
        expect(db.insertBars("KEEP", batch)).toBe(20_400);
        const keep = db.getBars("KEEP");
        expect(keep.length).toBe(20_500);
        expect(keep.slice(0, 400)).toEqual(changed);
        expect(keep.slice(400)).toEqual(newBars(400, 20_100));
        expect(db.getBars("OLD")).toEqual(before.bars.OLD!);
        expect(db.maintenance.integrityCheck().ok).toBe(true);
      } finally {
        db.close();
      }
    },
  );

  fullDiskCase(
    "deleting rows and an incremental vacuum free the space: the same insert then fits under the same cap",
    async () => {
      const { value: db, sqlite } = captureConnection(() => openDatabase({ path: dir.file("vacuum.db") }));
      try {
        db.insertBars("OLD", newBars(0, 20_000));
        db.insertBars("KEEP", newBars(0, 500));
        const cap = capPages(sqlite, 0);
        const batch = newBars(500, 8_000);
        expectFull(await failure(() => db.insertBars("KEEP", batch)));
        expect(db.overview().map(({ symbol, count }) => [symbol, count])).toEqual([["KEEP", 500], ["OLD", 20_000]]);

        // Deleting needs no new page; the vacuum gives the freed pages back to the file system.
        expect(db.deleteBars("OLD")).toBe(20_000);
        const pagesBefore = pragmaNumber(sqlite, "page_count");
        expect(db.maintenance.vacuum({ incremental: true }).freedPages).toBeGreaterThan(0);
        expect(pragmaNumber(sqlite, "page_count")).toBeLessThan(pagesBefore);
        expect(pragmaNumber(sqlite, "max_page_count")).toBe(cap);

        expect(db.insertBars("KEEP", batch)).toBe(8_000);
        expect(db.getBars("KEEP")).toEqual(newBars(0, 8_500));
        expect(pragmaNumber(sqlite, "page_count")).toBeLessThanOrEqual(cap);
        expect(db.maintenance.integrityCheck().ok).toBe(true);
      } finally {
        db.close();
      }
    },
  );

  fullDiskCase("through the Store (backend sqlite): the insert rejects with SQLITE_FULL, nothing is written, and it succeeds once the cap is raised", async () => {
    const { value: opening, sqlite } = captureConnection(() => openStore({ backend: "sqlite", path: dir.file("store.db") }));
    const store: Store = await opening;
    try {
      await store.insertBars("KEEP", newBars(0, 500));
      capPages(sqlite, 0);
      const batch = newBars(500, 10_000);
      expectFull(await failure(() => store.insertBars("KEEP", batch)));
      expect(await store.getBars("KEEP")).toEqual(newBars(0, 500));
      expect((await store.overview()).map(({ count }) => count)).toEqual([500]);
      expect((await store.audit.verify()).ok).toBe(true);
      expect((await store.maintenance.integrityCheck()).ok).toBe(true);
      uncap(sqlite);
      expect(await store.insertBars("KEEP", batch)).toBe(10_000);
      expect(await store.getBars("KEEP")).toEqual(newBars(0, 10_500));
    } finally {
      await store.close();
    }
  });

  fullDiskCase("through the session cache: storeBars fails with SQLITE_FULL, the file and its row are unchanged, and the same call succeeds once the cap is raised", async () => {
    const { value: db, sqlite } = captureConnection(() => openDatabase({ path: dir.file("cache.db") }));
    const events: CacheRecoveryEvent[] = [];
    const cache = new SessionCache({ store: createSqliteStore(db), dir: dir.file("cache"), onRecovery: (event) => events.push(event) });
    try {
      await cache.storeBars("KEEP", newBars(0, 240));
      const file = join(dir.file("cache"), db.cacheEntries.get("KEEP")!.file_path);
      const bytes = readFileSync(file);
      const entry = db.cacheEntries.get("KEEP");
      capPages(sqlite, 0);
      const batch = newBars(240, 10_000);

      expectFull(await failure(() => cache.storeBars("KEEP", batch)));
      expect(readFileSync(file)).toEqual(bytes);
      expect(db.cacheEntries.get("KEEP")).toEqual(entry);
      expect(await cache.getBars("KEEP")).toEqual(newBars(0, 240));
      expect(db.getBars("KEEP")).toEqual(newBars(0, 240));

      uncap(sqlite);
      expect(await cache.storeBars("KEEP", batch)).toEqual({ written: 10_000, compacted: false });
      expect(await cache.getBars("KEEP")).toEqual(newBars(0, 10_240));
      expect(db.getBars("KEEP")).toEqual(newBars(0, 10_240));
      expect(db.cacheEntries.get("KEEP")!.row_count).toBe(10_240);
      // The failed call left nothing behind for the cache to repair.
      expect(events).toEqual([]);
      expect(db.maintenance.integrityCheck().ok).toBe(true);
    } finally {
      db.close();
    }
  });
});

describe("a real full file system (2 MiB tmpfs filled by a ballast file)", () => {
  /** A folder on the tmpfs for one case, removed (with any ballast) afterwards. */
  function onTmpfs(name: string) {
    const path = join(tmpfs.path, name);
    return { path, file: (file: string) => join(path, file), cleanup: () => removeQuietly(path) };
  }

  fullDiskCase(
    "Database: writes fail with SQLITE_FULL, reads and another client see the data intact, and the same insert succeeds once the ballast is deleted",
    async () => {
      const folder = onTmpfs("database");
      const db = openDatabase({ path: folder.file("trading.db") });
      let ballast: { free(): void } | undefined;
      try {
        db.insertBars("KEEP", newBars(0, 2_000));
        // An empty WAL: the next commit must grow it, which needs new blocks.
        db.maintenance.checkpoint("TRUNCATE");
        const before = snapshot(db);
        ballast = fillDisk(folder.path);
        const batch = newBars(2_000, 5_000);

        expectFull(await failure(() => db.insertBars("KEEP", batch)));
        expectFull(await failure(() => db.insertBars("NEW", newBars(0, 1))));
        expect(snapshot(db)).toEqual(before);
        expect(await inspectWithPython(db.path)).toEqual({ integrity: "ok", counts: { KEEP: 2_000 } });

        ballast.free();
        ballast = undefined;
        expect(db.insertBars("KEEP", batch)).toBe(5_000);
        expect(db.getBars("KEEP")).toEqual(newBars(0, 7_000));
        expect(db.maintenance.integrityCheck().ok).toBe(true);
        expect(db.audit.verify().ok).toBe(true);
        db.close();
        // A clean close still folds the WAL away.
        expect(existsSync(`${db.path}-wal`)).toBe(false);
        expect(await inspectWithPython(db.path)).toEqual({ integrity: "ok", counts: { KEEP: 7_000 } });
      } finally {
        ballast?.free();
        db.close();
        folder.cleanup();
      }
    },
    noTmpfs,
  );

  fullDiskCase(
    "Store (backend sqlite-worker): the insert rejects with SQLITE_FULL, no worker dies, reads keep working, and the same insert succeeds once space is freed",
    async () => {
      const folder = onTmpfs("worker");
      const store = await openStore({ backend: "sqlite-worker", path: folder.file("trading.db"), readers: 1 });
      let ballast: { free(): void } | undefined;
      try {
        await store.insertBars("KEEP", newBars(0, 2_000));
        await store.maintenance.checkpoint("TRUNCATE");
        ballast = fillDisk(folder.path);
        const batch = newBars(2_000, 5_000);

        expectFull(await failure(() => store.insertBars("KEEP", batch)));
        expect(await store.getBars("KEEP")).toEqual(newBars(0, 2_000));
        expect((await store.overview()).map(({ symbol, count }) => [symbol, count])).toEqual([["KEEP", 2_000]]);
        expect(await inspectWithPython(folder.file("trading.db"))).toEqual({ integrity: "ok", counts: { KEEP: 2_000 } });

        ballast.free();
        ballast = undefined;
        expect(await store.insertBars("KEEP", batch)).toBe(5_000);
        expect(await store.getBars("KEEP")).toEqual(newBars(0, 7_000));
        expect((await store.maintenance.integrityCheck()).ok).toBe(true);
        expect((await store.metrics.summary(WORKER_RESTART_METRIC)).count).toBe(0);
      } finally {
        ballast?.free();
        await store.close();
        folder.cleanup();
      }
    },
    noTmpfs,
  );

  fullDiskCase(
    "session cache (database and cache folder on the full disk): storeBars fails with a StorageError, the file and its row are unchanged, and it succeeds once space is freed",
    async () => {
      const folder = onTmpfs("cache");
      const db = openDatabase({ path: folder.file("trading.db") });
      const events: CacheRecoveryEvent[] = [];
      const cache = new SessionCache({ store: createSqliteStore(db), dir: folder.file("session_cache"), onRecovery: (event) => events.push(event) });
      let ballast: { free(): void } | undefined;
      try {
        await cache.storeBars("KEEP", newBars(0, 240));
        db.maintenance.checkpoint("TRUNCATE");
        const file = join(folder.file("session_cache"), db.cacheEntries.get("KEEP")!.file_path);
        const bytes = readFileSync(file);
        const entry = db.cacheEntries.get("KEEP");
        ballast = fillDisk(folder.path);
        const batch = newBars(240, 2_000);

        const error = await failure(() => cache.storeBars("KEEP", batch));
        expect(error).toBeInstanceOf(StorageError);
        // The append to the cache file meets the full disk first (the database's pages are
        // still in memory then): the file system's code, with the symbol in the message.
        expect((error as StorageError).code).toBe("ENOSPC");
        expect((error as StorageError).message).toContain("KEEP");
        expect(readFileSync(file)).toEqual(bytes);
        expect(db.cacheEntries.get("KEEP")).toEqual(entry);
        expect(db.getBars("KEEP")).toEqual(newBars(0, 240));
        expect(await cache.getBars("KEEP")).toEqual(newBars(0, 240));

        ballast.free();
        ballast = undefined;
        expect(await cache.storeBars("KEEP", batch)).toEqual({ written: 2_000, compacted: false });
        expect(await cache.getBars("KEEP")).toEqual(newBars(0, 2_240));
        expect(db.getBars("KEEP")).toEqual(newBars(0, 2_240));
        expect(events).toEqual([]);
        expect(db.maintenance.integrityCheck().ok).toBe(true);
      } finally {
        ballast?.free();
        db.close();
        folder.cleanup();
      }
    },
    noTmpfs,
  );

  fullDiskCase(
    "maintenance.integrityCheck() and checkpoint() answer on a full disk (their runs are recorded only where there is room)",
    async () => {
      const folder = onTmpfs("integrity");
      const db = openDatabase({ path: folder.file("trading.db") });
      let ballast: { free(): void } | undefined;
      try {
        db.insertBars("KEEP", newBars(0, 2_000));
        db.maintenance.checkpoint("TRUNCATE");
        ballast = fillDisk(folder.path);
        expect(await inspectWithPython(db.path)).toEqual({ integrity: "ok", counts: { KEEP: 2_000 } });
        // The check itself only reads; the file is fine, as the independent client just said.
        expect(db.maintenance.integrityCheck()).toMatchObject({ ok: true, problems: [] });
        expect(db.maintenance.checkpoint("PASSIVE")).toMatchObject({ busy: false });
        // Anything that writes data still fails clearly.
        expectFull(await failure(() => db.insertBars("KEEP", newBars(2_000, 2_400))));
      } finally {
        ballast?.free();
        db.close();
        folder.cleanup();
      }
    },
    noTmpfs,
  );

  fullDiskCase(
    "a checkpoint that must grow the database file fails with SQLITE_FULL (the API: 507), loses nothing, and completes once space is freed",
    async () => {
      const folder = onTmpfs("checkpoint");
      const db = openDatabase({ path: folder.file("trading.db") });
      const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: createApp(createSqliteStore(db)).fetch });
      let ballast: { free(): void } | undefined;
      try {
        db.maintenance.checkpoint("TRUNCATE");
        // New pages in the WAL: copying them back must grow the database file.
        db.insertBars("KEEP", newBars(0, 2_000));
        ballast = fillDisk(folder.path);
        for (const mode of ["PASSIVE", "TRUNCATE"] as const) expectFull(await failure(() => db.maintenance.checkpoint(mode)));
        const answer = await fetch(`${server.url}v1/maintenance/checkpoint?mode=PASSIVE`, { method: "POST", headers: { "Content-Type": "application/json" } });
        expect(answer.status).toBe(507);
        expect(await answer.json()).toEqual({
          error: { code: "INSUFFICIENT_STORAGE", message: "the disk is full: nothing of this request was stored; free space and retry", details: { storageCode: "SQLITE_FULL" } },
        });
        // The WAL holds every committed bar meanwhile: another client reads them all.
        expect(await inspectWithPython(db.path)).toEqual({ integrity: "ok", counts: { KEEP: 2_000 } });
        ballast.free();
        ballast = undefined;
        expect(db.maintenance.checkpoint("TRUNCATE")).toMatchObject({ busy: false });
        expect(readFileSync(`${db.path}-wal`).byteLength).toBe(0);
        expect(db.getBars("KEEP")).toEqual(newBars(0, 2_000));
      } finally {
        ballast?.free();
        server.stop(true);
        db.close();
        folder.cleanup();
      }
    },
    noTmpfs,
  );

  fullDiskCase(
    "a backup that fails on a full disk leaves no file under its name, and the same name succeeds once space is freed",
    async () => {
      const folder = onTmpfs("backup");
      const db = openDatabase({ path: folder.file("trading.db") });
      const target = folder.file("backups/before-close.db");
      let ballast: { free(): void } | undefined;
      try {
        db.insertBars("KEEP", newBars(0, 2_000));
        db.maintenance.checkpoint("TRUNCATE");
        ballast = fillDisk(folder.path);
        expectFull(await failure(() => db.maintenance.backup(target)));
        expect(existsSync(target)).toBe(false);
        ballast.free();
        ballast = undefined;
        expect(db.maintenance.backup(target).bytes).toBeGreaterThan(0);
        expect(await inspectWithPython(target)).toEqual({ integrity: "ok", counts: { KEEP: 2_000 } });
      } finally {
        ballast?.free();
        db.close();
        folder.cleanup();
      }
    },
    noTmpfs,
  );

  fullDiskCase(
    "a storeBars whose commit failed on a full disk: the next read fails clearly while the disk is full, no acknowledged bar is lost, and all works once space is freed",
    async () => {
      // The database on the full tmpfs, the cache folder on the ordinary disk: the append
      // succeeds and the commit fails, leaving an unacknowledged tail in the file.
      const folder = onTmpfs("cache-commit");
      const db = openDatabase({ path: folder.file("trading.db") });
      const cacheDir = dir.file("cache-commit");
      const cache = new SessionCache({ store: createSqliteStore(db), dir: cacheDir });
      let ballast: { free(): void } | undefined;
      try {
        await cache.storeBars("KEEP", newBars(0, 240));
        db.maintenance.checkpoint("TRUNCATE");
        ballast = fillDisk(folder.path);
        expectFull(await failure(() => cache.storeBars("KEEP", newBars(240, 2_000))));
        expect(db.getBars("KEEP")).toEqual(newBars(0, 240));
        // The read drops the unacknowledged tail, and must record that repair: no room for it.
        expectFull(await failure(() => cache.getBars("KEEP")));
        ballast.free();
        ballast = undefined;
        expect(await cache.getBars("KEEP")).toEqual(newBars(0, 240));
        await cache.storeBars("KEEP", newBars(240, 2_000));
        expect(await cache.getBars("KEEP")).toEqual(newBars(0, 2_240));
        expect(db.getBars("KEEP")).toEqual(newBars(0, 2_240));
      } finally {
        ballast?.free();
        db.close();
        folder.cleanup();
        removeQuietly(cacheDir);
      }
    },
    noTmpfs,
  );
});
