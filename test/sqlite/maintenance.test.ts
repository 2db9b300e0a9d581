/**
 * db.maintenance (src/sqlite/maintenance.ts): checkpoints and what they record, optimize, vacuum,
 * integrity checks, file statistics, online backups taken while another process writes, the
 * WAL's bound under a long-lived reader, checkpoint starvation, and the maintenance timer.
 */
import { Database as RawDatabase } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { closeSync, copyFileSync, existsSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { barsDigest, ConflictError, openDatabase, openStore, StorageError, ValidationError, type Database } from "../../src/mod.ts";
import { randomBars } from "../support/bars.ts";
import { fieldsOf, thrown } from "../support/errors.ts";
import { tempDir } from "../support/files.ts";
import { SERIES_PY, seriesBars, startPython, waitForReady, type PythonProcess } from "../support/interop-python.ts";

const T0 = Date.UTC(2024, 0, 2, 1, 31);
const SYMBOL = "600000.SH";
/** `count` minute bars starting `from` minutes after T0. */
const bars = (count: number, from = 0, seed = 1) => randomBars(Array.from({ length: count }, (_, i) => T0 + (from + i) * 60_000), seed);

/** SQLite's WAL layout: a 32-byte header, then per frame a 24-byte header and one page. */
const walBytesFor = (frames: number, pageSize: number) => (frames === 0 ? 0 : 32 + frames * (24 + pageSize));

let dir: ReturnType<typeof tempDir>;
let dbPath: string;
let db: Database;
const pythons: PythonProcess<unknown>[] = [];

beforeEach(() => {
  dir = tempDir("tradelite-maintenance-");
  dbPath = dir.file("trading.db");
  db = openDatabase({ path: dbPath });
});

afterEach(async () => {
  // A Python child still running would hold the file (and its read lock) past the test.
  writeFileSync(dir.file("stop"), "");
  await Promise.allSettled(pythons.splice(0).map((python) => python.result));
  db.close();
  dir.cleanup();
});


const fileSize = (path: string) => (existsSync(path) ? statSync(path).size : 0);

function rawCount(path: string, table: string): number {
  const raw = new RawDatabase(path, { readonly: true });
  try {
    return (raw.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    raw.close();
  }
}

describe("checkpoint", () => {
  for (const mode of ["PASSIVE", "FULL", "RESTART", "TRUNCATE"] as const) {
    test(`${mode} after writes returns the WAL's frame counts and a duration`, () => {
      db.insertBars(SYMBOL, bars(2_000));
      const result = db.maintenance.checkpoint(mode);
      expect(result.mode).toBe(mode);
      expect(result.busy).toBe(false);
      expect(Number.isInteger(result.walFrames)).toBe(true);
      expect(Number.isInteger(result.checkpointedFrames)).toBe(true);
      expect(result.durationMs).toBeGreaterThanOrEqual(0);
      if (mode === "TRUNCATE") {
        // SQLite reports the WAL as it is after truncation: empty.
        expect(result).toMatchObject({ walFrames: 0, checkpointedFrames: 0 });
      } else {
        expect(result.walFrames).toBeGreaterThan(10);
        expect(result.checkpointedFrames).toBe(result.walFrames);
      }
    });
  }

  test("PASSIVE is the default mode", () => {
    expect(db.maintenance.checkpoint().mode).toBe("PASSIVE");
  });

  test("TRUNCATE with no readers moves every row into the main file: a copy of it alone holds them all", () => {
    db.insertBars(SYMBOL, bars(5_000));
    expect(fileSize(`${dbPath}-wal`)).toBeGreaterThan(100_000);
    db.maintenance.checkpoint("TRUNCATE");
    const copy = dir.file("main-file-only.db");
    copyFileSync(dbPath, copy);
    expect(rawCount(copy, "market_data")).toBe(5_000);
    // What is left in the WAL is at most the checkpoint's own metric and audit entry.
    expect(fileSize(`${dbPath}-wal`)).toBeLessThanOrEqual(walBytesFor(8, db.maintenance.stats().pageSize));
  });

  test("TRUNCATE after writes with no readers leaves a -wal file of 0 bytes", () => {
    db.insertBars(SYMBOL, bars(5_000));
    db.maintenance.checkpoint("TRUNCATE");
    expect(fileSize(`${dbPath}-wal`)).toBe(0);
  });

  test("an unknown mode is a ValidationError on mode and runs nothing", () => {
    for (const mode of ["passive", "", "TRUNCATE); DROP TABLE market_data; --", 1, null]) {
      expect(fieldsOf(thrown(() => db.maintenance.checkpoint(mode as never)))).toEqual(["mode"]);
    }
    expect(db.metrics.summary("sqlite.checkpoint.ms").count).toBe(0);
    expect(db.audit.query({ action: "maintenance.checkpoint" })).toEqual([]);
  });

  test("each run records the metric sqlite.checkpoint.ms and an audit entry maintenance.checkpoint", () => {
    db.insertBars(SYMBOL, bars(100));
    const first = db.maintenance.checkpoint("PASSIVE");
    db.maintenance.checkpoint("FULL");
    db.maintenance.checkpoint("TRUNCATE");
    const summary = db.metrics.summary("sqlite.checkpoint.ms");
    expect(summary.count).toBe(3);
    expect(summary.min).toBeGreaterThanOrEqual(0);
    const entries = db.audit.query({ action: "maintenance.checkpoint" });
    expect(entries.map((entry) => (entry.details as { mode: string }).mode)).toEqual(["PASSIVE", "FULL", "TRUNCATE"]);
    expect(entries[0]!.details).toEqual({
      mode: "PASSIVE",
      busy: false,
      walFrames: first.walFrames,
      checkpointedFrames: first.checkpointedFrames,
    });
    expect(db.audit.verify().ok).toBe(true);
  });

  test("a caught-up checkpoint records no sqlite.checkpoint.behind", () => {
    db.insertBars(SYMBOL, bars(100));
    db.maintenance.checkpoint("PASSIVE");
    db.maintenance.checkpoint("PASSIVE");
    expect(db.metrics.summary("sqlite.checkpoint.behind").count).toBe(0);
  });
});

describe("optimize and vacuum", () => {
  /** Writes `count` bars, deletes them and folds the WAL in, leaving free pages behind. */
  function freePagesBehind(count: number): void {
    db.insertBars(SYMBOL, bars(count));
    db.insertBars("000001.SZ", bars(100));
    db.deleteBars(SYMBOL);
    db.maintenance.checkpoint("TRUNCATE");
  }

  test("optimize runs, and records sqlite.optimize.ms and maintenance.optimize", () => {
    db.insertBars(SYMBOL, bars(1_000));
    const { durationMs } = db.maintenance.optimize();
    expect(durationMs).toBeGreaterThanOrEqual(0);
    expect(db.metrics.summary("sqlite.optimize.ms")).toMatchObject({ count: 1, last: durationMs });
    expect(db.audit.query({ action: "maintenance.optimize" })).toHaveLength(1);
  });

  test("an incremental vacuum after deleting many rows frees the pages the delete left", () => {
    freePagesBehind(40_000);
    const before = db.maintenance.stats();
    expect(before.freePages).toBeGreaterThan(50);
    const { freedPages } = db.maintenance.vacuum({ incremental: true });
    const after = db.maintenance.stats();
    expect(freedPages).toBe(before.freePages - after.freePages);
    expect(freedPages).toBeGreaterThan(50);
    expect(after.freePages).toBeLessThan(before.freePages);
    expect(after.pageCount).toBeLessThan(before.pageCount);
    db.maintenance.checkpoint("TRUNCATE");
    expect(fileSize(dbPath)).toBeLessThan(before.fileBytes);
    expect(db.getBars("000001.SZ")).toHaveLength(100);
    expect(db.audit.query({ action: "maintenance.vacuum" }).at(-1)?.details).toEqual({ incremental: true, freedPages });
  });

  test("vacuum() is incremental by default", () => {
    freePagesBehind(20_000);
    db.maintenance.vacuum();
    expect(db.audit.query({ action: "maintenance.vacuum" }).at(-1)?.details).toMatchObject({ incremental: true });
    expect(db.maintenance.stats().freePages).toBeLessThan(5);
  });

  test("a full vacuum rebuilds the file smaller, keeps the rows and the incremental auto-vacuum", () => {
    freePagesBehind(40_000);
    const before = db.maintenance.stats();
    const { freedPages, durationMs } = db.maintenance.vacuum({ incremental: false });
    const after = db.maintenance.stats();
    expect(durationMs).toBeGreaterThanOrEqual(0);
    expect(freedPages).toBe(before.pageCount - after.pageCount);
    expect(freedPages).toBeGreaterThan(50);
    expect(after.freePages).toBe(0);
    expect(db.getBars("000001.SZ")).toEqual(bars(100));
    expect(db.settings().autoVacuum).toBe("INCREMENTAL");
    expect(db.metrics.summary("sqlite.vacuum.ms").count).toBe(1);
  });
});

describe("integrityCheck", () => {
  test("a good file passes the full and the quick check, and sqlite.integrity.ok is 1", () => {
    db.insertBars(SYMBOL, bars(3_000));
    expect(db.maintenance.integrityCheck()).toMatchObject({ ok: true, problems: [] });
    expect(db.maintenance.integrityCheck({ quick: true })).toMatchObject({ ok: true, problems: [] });
    expect(db.metrics.summary("sqlite.integrity.ok")).toMatchObject({ count: 2, min: 1, max: 1, last: 1 });
    expect(db.metrics.query("sqlite.integrity.ok", { labels: { quick: "true" } })).toHaveLength(1);
    expect(db.metrics.summary("sqlite.integrity.ms").count).toBe(2);
    expect(db.audit.query({ action: "maintenance.integrity" }).map((entry) => entry.details)).toEqual([
      { quick: false, ok: true },
      { quick: true, ok: true },
    ]);
  });

  /** A file whose extra index on market_data has its last cells overwritten on disk. */
  function damageAnIndexPage(): void {
    const setup = new RawDatabase(dbPath);
    setup.run("CREATE INDEX market_data_close ON market_data (close)");
    setup.close();
    db.insertBars(SYMBOL, bars(10));
    db.close();
    const raw = new RawDatabase(dbPath, { readonly: true });
    const { rootpage } = raw.query("SELECT rootpage FROM sqlite_schema WHERE name = 'market_data_close'").get() as { rootpage: number };
    raw.close();
    const fd = openSync(dbPath, "r+");
    // A small index is one leaf page, its cells packed at the page's end.
    writeSync(fd, new Uint8Array(64).fill(0xff), 0, 64, rootpage * 4_096 - 64);
    closeSync(fd);
    db = openDatabase({ path: dbPath });
  }

  test("a damaged page fails the quick check with SQLite's messages, and records sqlite.integrity.ok 0", () => {
    damageAnIndexPage();
    const result = db.maintenance.integrityCheck({ quick: true });
    expect(result.ok).toBe(false);
    expect(result.problems.join("\n")).toContain("Extends off end of page");
    expect(db.metrics.summary("sqlite.integrity.ok")).toMatchObject({ count: 1, last: 0 });
    expect(db.audit.query({ action: "maintenance.integrity" })[0]?.details).toEqual({ quick: true, ok: false });
  });

  test("a damaged page fails the full check as { ok: false } and records sqlite.integrity.ok 0", () => {
    damageAnIndexPage();
    const result = db.maintenance.integrityCheck({ quick: false });
    expect(result.ok).toBe(false);
    expect(db.metrics.summary("sqlite.integrity.ok").last).toBe(0);
  });
});

describe("stats", () => {
  test("row counts per table are exact and the sizes match the files", async () => {
    db.insertBars(SYMBOL, bars(1_234));
    db.insertBars("000001.SZ", bars(56, 0, 2));
    db.insertQuotes(SYMBOL, [{ timestamp: T0, bid: 10, ask: 10.01 }, { timestamp: T0 + 1_000, bid: 10, ask: 10.02 }]);
    await db.artifacts.register({ name: "lstm", version: "1", path: dir.file("missing.bin") });
    db.prefs.set("theme", "dark");
    db.prefs.set("symbols", [SYMBOL]);
    db.metrics.record("test.metric", 1);
    const stats = db.maintenance.stats();
    expect(stats.rows).toEqual({
      market_data: 1_290,
      quotes: 2,
      session_cache: 0,
      model_artifacts: 1,
      audit_log: db.audit.query().length,
      user_preferences: 2,
      recovery_metrics: 1,
    });
    // Read back by a second connection, not through the module's own statements.
    for (const [table, count] of Object.entries(stats.rows)) expect(rawCount(dbPath, table)).toBe(count);
    expect(stats.path).toBe(dbPath);
    expect(stats.journalMode).toBe("wal");
    expect(stats.fileBytes).toBe(statSync(dbPath).size);
    expect(stats.walBytes).toBe(statSync(`${dbPath}-wal`).size);
    expect(stats.walBytes).toBeGreaterThan(0);
  });

  test("after a TRUNCATE checkpoint pageSize * pageCount is the main file's size", () => {
    db.insertBars(SYMBOL, bars(20_000));
    db.maintenance.checkpoint("TRUNCATE");
    const stats = db.maintenance.stats();
    expect(stats.pageSize).toBe(4_096);
    expect(stats.fileBytes).toBe(statSync(dbPath).size);
    // Within the pages the checkpoint's own bookkeeping may have added after it.
    expect(Math.abs(stats.pageSize * stats.pageCount - stats.fileBytes)).toBeLessThanOrEqual(2 * stats.pageSize);
    expect(stats.fileBytes).toBeGreaterThan(500_000);
  });

  test("stats() of an in-memory database reports no file sizes", () => {
    const memory = openDatabase({ path: ":memory:" });
    try {
      memory.insertBars(SYMBOL, bars(10));
      expect(memory.maintenance.stats()).toMatchObject({ fileBytes: 0, walBytes: 0, rows: { market_data: 10 } });
    } finally {
      memory.close();
    }
  });
});

describe("backup", () => {
  test("a backup is a complete, consistent copy and records sqlite.backup.ms", () => {
    db.insertBars(SYMBOL, bars(2_500));
    const target = dir.file("backups/nested/copy.db");
    const result = db.maintenance.backup(target);
    expect(result.path).toBe(target);
    expect(result.bytes).toBe(statSync(target).size);
    expect(existsSync(`${target}-wal`)).toBe(false);
    const copy = openDatabase({ path: target, readonly: true });
    try {
      expect(copy.getBars(SYMBOL)).toEqual(db.getBars(SYMBOL));
      expect(copy.audit.verify().ok).toBe(true);
    } finally {
      copy.close();
    }
    expect(db.metrics.summary("sqlite.backup.ms").count).toBe(1);
    expect(db.audit.query({ action: "maintenance.backup" })[0]?.details).toEqual({ bytes: result.bytes });
  });

  test("an existing target is a ConflictError and is left untouched", () => {
    const target = dir.file("exists.db");
    writeFileSync(target, "not a database");
    expect(thrown(() => db.maintenance.backup(target))).toBeInstanceOf(ConflictError);
    expect(readFileSync(target, "utf8")).toBe("not a database");
    expect(thrown(() => db.maintenance.backup(dbPath))).toBeInstanceOf(ConflictError);
    expect(db.metrics.summary("sqlite.backup.ms").count).toBe(0);
  });

  test("a target that is not a path is a ValidationError", () => {
    for (const target of ["", "a\0b", 7]) expect(fieldsOf(thrown(() => db.maintenance.backup(target as never)))).toEqual(["path"]);
  });

  test("a backup taken while another process inserts passes integrity_check and holds every row committed before it began", async () => {
    const BASE = Date.UTC(2024, 0, 15, 1, 31);
    const BATCH = 50;
    db.insertBars(SYMBOL, bars(5_000));
    const ready = dir.file("writer-ready");
    // Python's sqlite3, its own transactions: one batch per commit, then the count it has committed.
    const writer = Bun.spawn(
      [
        "python3",
        "-c",
        `
import sqlite3, sys, os, time
${SERIES_PY}
path, base, batch, ready, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
conn = sqlite3.connect(path, timeout=10)
open(ready, "w").close()
committed = 0
deadline = time.monotonic() + 20
while not os.path.exists(stop) and time.monotonic() < deadline:
    rows = [("WRITER",) + series_bar(base, committed + k) for k in range(batch)]
    conn.executemany("INSERT INTO market_data (symbol, timestamp, open, high, low, close, volume, amount) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    committed += batch
    print(committed, flush=True)
conn.close()
`,
        dbPath,
        String(BASE),
        String(BATCH),
        ready,
        dir.file("stop"),
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    let committed = 0;
    const reading = (async () => {
      let pending = "";
      for await (const chunk of writer.stdout) {
        pending += new TextDecoder().decode(chunk);
        const lines = pending.split("\n");
        pending = lines.pop()!;
        for (const line of lines) if (line.trim()) committed = Number(line);
      }
    })();
    try {
      const deadline = performance.now() + 15_000;
      while (committed < 2_000) {
        if (writer.exitCode !== null) throw new Error(`writer exited ${writer.exitCode}: ${await new Response(writer.stderr).text()}`);
        if (performance.now() > deadline) throw new Error(`writer committed only ${committed} rows`);
        await Bun.sleep(5);
      }
      expect(existsSync(ready)).toBe(true);
      const committedBefore = committed;
      const target = dir.file("online.db");
      db.maintenance.backup(target);
      // Keep writing a little after, so the writer demonstrably ran through the backup.
      while (committed < committedBefore + 500 && performance.now() < deadline) await Bun.sleep(5);
      writeFileSync(dir.file("stop"), "");
      expect(await writer.exited).toBe(0);
      await reading;

      const copy = new RawDatabase(target, { readonly: true });
      try {
        expect(copy.query("PRAGMA integrity_check").all()).toEqual([{ integrity_check: "ok" }]);
        const { n, first, last } = copy
          .query("SELECT count(*) AS n, min(timestamp) AS first, max(timestamp) AS last FROM market_data WHERE symbol = 'WRITER'")
          .get() as { n: number; first: number; last: number };
        expect(n).toBeGreaterThanOrEqual(committedBefore);
        // Whole transactions only, and a prefix of the writer's series: no gap, no torn batch.
        expect(n % BATCH).toBe(0);
        expect(first).toBe(BASE);
        expect(last).toBe(BASE + (n - 1) * 60_000);
        const sample = copy.query("SELECT timestamp, open, high, low, close, volume, amount FROM market_data WHERE symbol = 'WRITER' AND timestamp = ?");
        const expected = seriesBars(BASE, committedBefore - 1, 1)[0]!;
        expect(sample.get(expected.timestamp)).toEqual(expected);
        expect((copy.query(`SELECT count(*) AS n FROM market_data WHERE symbol = '${SYMBOL}'`).get() as { n: number }).n).toBe(5_000);
      } finally {
        copy.close();
      }
      // The writer kept committing after the backup began, and those rows are in the live file.
      expect(committed).toBeGreaterThan(committedBefore);
      expect(db.getBars("WRITER").length).toBe(committed);
    } finally {
      writer.kill();
      await writer.exited;
    }
  }, 30_000);

  test("the Store's maintenance takes the same backup", async () => {
    db.close();
    const store = await openStore({ backend: "sqlite", path: dir.file("store.db") });
    try {
      await store.insertBars(SYMBOL, bars(300));
      const result = await store.maintenance.backup(dir.file("store-copy.db"));
      expect(rawCount(result.path, "market_data")).toBe(300);
      expect(await store.maintenance.backup(dir.file("store-copy.db")).catch((error: unknown) => error)).toBeInstanceOf(ConflictError);
      expect(await store.maintenance.stats()).toMatchObject({ rows: { market_data: 300 } });
      expect(await store.maintenance.integrityCheck({ quick: true })).toMatchObject({ ok: true });
    } finally {
      await store.close();
      db = openDatabase({ path: dbPath });
    }
  });
});

describe("the WAL under readers", () => {
  test("stays small across 100 write/checkpoint cycles while a long-lived reader connection reads between them", () => {
    const reader = new RawDatabase(dbPath, { readonly: true });
    try {
      const count = reader.query("SELECT count(*) AS n FROM market_data");
      const limit = db.settings().journalSizeLimit;
      expect(limit).toBe(64 * 1024 * 1024);
      let largest = 0;
      for (let cycle = 0; cycle < 100; cycle++) {
        db.insertBars(SYMBOL, bars(500, cycle * 500, cycle));
        // A read per cycle, in autocommit: it sees the commit, and holds no snapshot afterwards.
        expect((count.all()[0] as { n: number }).n).toBe((cycle + 1) * 500);
        largest = Math.max(largest, fileSize(`${dbPath}-wal`));
        const result = db.maintenance.checkpoint("PASSIVE");
        expect(result.checkpointedFrames).toBe(result.walFrames);
        largest = Math.max(largest, fileSize(`${dbPath}-wal`));
      }
      expect(largest).toBeLessThan(limit);
      // In fact about one cycle's frames (~120 KB measured); without the checkpoints the WAL grows to
      // the 1,000-page autocheckpoint, ~4 MB.
      expect(largest).toBeLessThan(1024 * 1024);
      expect(db.metrics.summary("sqlite.checkpoint.behind").count).toBe(0);
      expect(rawCount(dbPath, "market_data")).toBe(50_000);
    } finally {
      reader.close();
    }
  }, 20_000);

  test("a reader that never lets go starves the checkpoint, which is reported as sqlite.checkpoint.behind", async () => {
    db.insertBars(SYMBOL, bars(1_000));
    db.maintenance.checkpoint("TRUNCATE");
    const ready = dir.file("reader-ready");
    // Holds BEGIN and a read snapshot open until told to stop.
    const reader = startPython<{ before: number; still: number }>(
      `
import json, os, sqlite3, sys, time
path, ready, stop = sys.argv[1], sys.argv[2], sys.argv[3]
conn = sqlite3.connect(path, timeout=10, isolation_level=None)
conn.execute("BEGIN")
before = conn.execute("SELECT count(*) FROM market_data").fetchone()[0]
open(ready, "w").close()
deadline = time.monotonic() + 25
while not os.path.exists(stop) and time.monotonic() < deadline:
    time.sleep(0.01)
still = conn.execute("SELECT count(*) FROM market_data").fetchone()[0]
conn.execute("COMMIT")
conn.close()
print(json.dumps({"before": before, "still": still}))
`,
      [dbPath, ready, dir.file("stop")],
    );
    pythons.push(reader);
    await waitForReady(reader, ready);

    for (let batch = 1; batch <= 10; batch++) db.insertBars(SYMBOL, bars(1_000, batch * 1_000, batch));
    const starved = db.maintenance.checkpoint("PASSIVE");
    expect(starved.walFrames).toBeGreaterThan(0);
    expect(starved.checkpointedFrames).toBeLessThan(starved.walFrames);
    const behind = db.metrics.query("sqlite.checkpoint.behind");
    expect(behind).toHaveLength(1);
    expect(behind[0]).toMatchObject({ value: starved.walFrames - starved.checkpointedFrames, labels: { mode: "PASSIVE" } });
    expect(behind[0]!.value).toBeGreaterThan(0);
    // The WAL holds what could not be checkpointed; it did not shrink behind our back.
    expect(fileSize(`${dbPath}-wal`)).toBeGreaterThanOrEqual(walBytesFor(starved.walFrames, 4_096));

    writeFileSync(dir.file("stop"), "");
    expect(await reader.result).toEqual({ before: 1_000, still: 1_000 });
    // Once the reader has gone the next checkpoint catches up.
    const caughtUp = db.maintenance.checkpoint("PASSIVE");
    expect(caughtUp.checkpointedFrames).toBe(caughtUp.walFrames);
    expect(db.metrics.summary("sqlite.checkpoint.behind").count).toBe(1);
  }, 30_000);
});

describe("startMaintenance", () => {
  async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!condition()) {
      if (performance.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
      await Bun.sleep(10);
    }
  }
  const runs = () => db.metrics.summary("maintenance.run.ms").count;

  test("runs optimize and a PASSIVE checkpoint on the timer and records maintenance.run.ms within a second", async () => {
    db.insertBars(SYMBOL, bars(1_000));
    db.maintenance.startMaintenance({ everyMs: 100 });
    expect(db.maintenance.running).toBe(true);
    await waitFor(() => runs() >= 2, 1_000);
    expect(db.metrics.summary("sqlite.optimize.ms").count).toBeGreaterThanOrEqual(2);
    expect(db.metrics.summary("maintenance.run.ms").min).toBeGreaterThanOrEqual(0);
    const checkpoints = db.audit.query({ action: "maintenance.checkpoint" });
    expect(checkpoints.length).toBeGreaterThanOrEqual(2);
    expect(checkpoints.every((entry) => (entry.details as { mode: string }).mode === "PASSIVE")).toBe(true);
    expect(db.metrics.summary("maintenance.error").count).toBe(0);
    db.maintenance.stopMaintenance();
  });

  test("closes the audit rollups that are due when no more writes arrive: a recorder that stopped is accounted for", async () => {
    db.close();
    db = openDatabase({ path: dbPath, auditRollupMs: 600 });
    const recorded = bars(3);
    for (const bar of recorded) db.insertBars(SYMBOL, [bar]);
    db.insertBars("000001.SZ", bars(1, 10));
    expect(db.audit.verifyRollups().pending).toBe(2);
    db.maintenance.startMaintenance({ everyMs: 100 });
    // Not yet due: runs go by and the rollups stay open.
    await waitFor(() => runs() >= 1, 1_000);
    expect(db.audit.query({ action: "bars.rollup" })).toEqual([]);
    await waitFor(() => db.audit.query({ action: "bars.rollup" }).length === 2, 2_000);
    db.maintenance.stopMaintenance();
    const mine = db.audit.query({ action: "bars.rollup" }).find((entry) => entry.entity === SYMBOL)!;
    expect(mine.details).toMatchObject({ rows: 3, batches: 3, start: T0, end: T0 + 2 * 60_000, ...barsDigest(db.getBars(SYMBOL)) });
    expect(db.audit.verifyRollups()).toEqual({ ok: true, checked: 2, pending: 0, mismatches: [] });
    expect(db.audit.verify().ok).toBe(true);
    expect(db.metrics.summary("maintenance.error").count).toBe(0);
  });

  test("runs an incremental vacuum once a tenth of the file is free pages", async () => {
    db.insertBars(SYMBOL, bars(30_000));
    db.insertBars("000001.SZ", bars(100));
    db.deleteBars(SYMBOL);
    const freeBefore = db.maintenance.stats().freePages;
    expect(freeBefore).toBeGreaterThan(0.1 * db.maintenance.stats().pageCount);
    db.maintenance.startMaintenance({ everyMs: 100 });
    await waitFor(() => db.metrics.summary("sqlite.vacuum.ms").count >= 1, 1_500);
    db.maintenance.stopMaintenance();
    expect(db.maintenance.stats().freePages).toBeLessThan(freeBefore);
    expect(db.getBars("000001.SZ")).toHaveLength(100);
  });

  test("everyMs below 100 or not a whole number is a ValidationError and starts nothing", () => {
    for (const everyMs of [99, 0, -100, 100.5, Number.NaN, Infinity, "1000", undefined]) {
      expect(fieldsOf(thrown(() => db.maintenance.startMaintenance({ everyMs } as never)))).toEqual(["everyMs"]);
    }
    expect(fieldsOf(thrown(() => db.maintenance.startMaintenance(undefined as never)))).toEqual(["everyMs"]);
    expect(db.maintenance.running).toBe(false);
  });

  test("stopMaintenance stops it: no run after", async () => {
    db.maintenance.startMaintenance({ everyMs: 100 });
    await waitFor(() => runs() >= 1, 1_000);
    db.maintenance.stopMaintenance();
    expect(db.maintenance.running).toBe(false);
    const stoppedAt = runs();
    await Bun.sleep(350);
    expect(runs()).toBe(stoppedAt);
  });

  test("starting again replaces the timer rather than adding a second one", async () => {
    db.maintenance.startMaintenance({ everyMs: 100 });
    db.maintenance.startMaintenance({ everyMs: 100 });
    await waitFor(() => runs() >= 1, 1_000);
    db.maintenance.stopMaintenance();
    const stoppedAt = runs();
    await Bun.sleep(350);
    expect(runs()).toBe(stoppedAt);
  });

  test("close() stops it, and the closed database refuses db.maintenance", async () => {
    const maintenance = db.maintenance;
    maintenance.startMaintenance({ everyMs: 100 });
    await waitFor(() => runs() >= 1, 1_000);
    db.close();
    expect(maintenance.running).toBe(false);
    const error = thrown(() => db.maintenance);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe("CLOSED");
    await Bun.sleep(250);
    expect(maintenance.running).toBe(false);
    db = openDatabase({ path: dbPath });
    const afterClose = runs();
    await Bun.sleep(250);
    expect(runs()).toBe(afterClose);
  });

  test("the timer does not keep the process alive", async () => {
    const script = dir.file("maintained.ts");
    const mod = join(import.meta.dir, "../../src/mod.ts");
    writeFileSync(
      script,
      `import { openDatabase } from ${JSON.stringify(mod)};
const db = openDatabase({ path: ${JSON.stringify(dir.file("child.db"))} });
db.maintenance.startMaintenance({ everyMs: 100 });
await Bun.sleep(350);
console.log(JSON.stringify({ runs: db.metrics.summary("maintenance.run.ms").count, running: db.maintenance.running }));
// No close(), no stopMaintenance(): only an unref'd timer is left.
`,
    );
    const started = performance.now();
    const child = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "pipe" });
    const killer = setTimeout(() => child.kill(), 8_000);
    const exitCode = await child.exited;
    clearTimeout(killer);
    const elapsed = performance.now() - started;
    const stdout = await new Response(child.stdout).text();
    expect(exitCode, await new Response(child.stderr).text()).toBe(0);
    expect(elapsed).toBeLessThan(5_000);
    const report = JSON.parse(stdout.trim().split("\n").at(-1)!) as { runs: number; running: boolean };
    expect(report.running).toBe(true);
    expect(report.runs).toBeGreaterThanOrEqual(1);
  }, 15_000);
});

describe("maintenance: bad arguments are typed errors", () => {
  test("null or wrongly typed options, an uncreatable backup folder, a schema that is not zod", () => {
    expect(fieldsOf(thrown(() => db.maintenance.vacuum({ incremental: "yes" } as never)))).toContain("incremental");
    expect(fieldsOf(thrown(() => db.maintenance.integrityCheck({ quick: 1 } as never)))).toContain("quick");
    expect(db.maintenance.vacuum(null as never).freedPages).toBeGreaterThanOrEqual(0);
    expect(db.maintenance.integrityCheck(null as never).ok).toBe(true);
    writeFileSync(join(dir.path, "plain-file"), "x");
    const error = thrown(() => db.maintenance.backup(join(dir.path, "plain-file", "copy.db")));
    expect((error as StorageError).code).toBe("SQLITE_CANTOPEN");
    expect(fieldsOf(thrown(() => db.prefs.define("k", {} as never)))).toContain("schema");
  });
});
