/**
 * A second process on the same file: Python's built-in sqlite3 reads and writes market_data
 * while a tradelite Database holds it open (DESIGN.md: "Other processes (a Python recorder, the
 * sqlite3 shell) may hold the same file open at the same time"), creates a file tradelite must
 * adopt or refuse, and reads what tradelite leaves behind after close.
 */
import { Database as SqliteDatabase } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openDatabase, StorageError } from "../../src/mod.ts";
import { SCHEMA_VERSION } from "../../src/sqlite/migrations.ts";
import { runPython, SERIES_PY, seriesBars, startPython, waitForReady } from "../support/interop-python.ts";

const ADR_COLUMNS = ["symbol", "timestamp", "open", "high", "low", "close", "volume", "amount"];
/** The ADR's DDL verbatim, as another program would create the table. */
const ADR_DDL = `CREATE TABLE IF NOT EXISTS market_data (symbol TEXT NOT NULL, timestamp TIMESTAMP NOT NULL,
open REAL, high REAL, low REAL, close REAL, volume INTEGER, amount REAL, PRIMARY KEY (symbol, timestamp))`;
/** 2024-01-15 01:31 UTC, 09:31 in Shanghai. */
const BASE = Date.UTC(2024, 0, 15, 1, 31);
const BATCH = 240;

let dir: string;
let dbPath: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tradelite-interop-"));
  dbPath = path.join(dir, "trading.db");
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

interface ReaderReport {
  errors: string[];
  journal_mode: string;
  columns: string[];
  counts: number[];
  reads: number;
  bad: string[];
}

/**
 * Reads every row of `symbol` over and over until it has seen `total` rows. Each read is one
 * snapshot; row i must be exactly series_bar(base, i), so a half-written batch, a torn row or a
 * gap would show up as a count that is not a whole number of batches or as a bad row.
 */
const READER_PY = `
import json, sqlite3, sys, time
${SERIES_PY}
path, symbol, base, batch, total, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
out = {"errors": [], "counts": [], "reads": 0, "bad": []}
conn = sqlite3.connect(path, timeout=5)
out["journal_mode"] = conn.execute("PRAGMA journal_mode").fetchone()[0]
out["columns"] = [row[1] for row in conn.execute("PRAGMA table_info(market_data)")]
open(ready, "w").close()
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    try:
        rows = conn.execute(
            "SELECT timestamp, open, high, low, close, volume, amount FROM market_data"
            " WHERE symbol = ? ORDER BY timestamp", (symbol,)).fetchall()
    except sqlite3.Error as error:
        out["errors"].append(type(error).__name__ + ": " + str(error))
        time.sleep(0.01)
        continue
    out["reads"] += 1
    n = len(rows)
    if not out["counts"] or out["counts"][-1] != n:
        out["counts"].append(n)
    if n % batch != 0 and len(out["bad"]) < 5:
        out["bad"].append("count %d is not a whole number of batches" % n)
    for i, row in enumerate(rows):
        if tuple(row) != series_bar(base, i) and len(out["bad"]) < 5:
            out["bad"].append("row %d of %d: %r" % (i, n, row))
    if n >= total:
        break
conn.close()
print(json.dumps(out))
`;

interface WriterReport {
  errors: string[];
  written: number;
  transactions: number;
}

/** A recorder: each batch in its own transaction (`with conn:`), integer epoch-ms timestamps. */
const WRITER_PY = `
import json, sqlite3, sys, time
${SERIES_PY}
path, symbol, base, batch, batches, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
out = {"errors": [], "written": 0, "transactions": 0}
conn = sqlite3.connect(path, timeout=5)
open(ready, "w").close()
for k in range(batches):
    rows = [(symbol,) + series_bar(base, k * batch + j) for j in range(batch)]
    try:
        with conn:
            conn.executemany(
                "INSERT INTO market_data (symbol, timestamp, open, high, low, close, volume, amount)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        out["written"] += len(rows)
        out["transactions"] += 1
    except sqlite3.Error as error:
        out["errors"].append(type(error).__name__ + ": " + str(error))
    time.sleep(0.015)
conn.close()
print(json.dumps(out))
`;

/** Creates a file with the ADR's DDL and the given rows, as a Python program would. */
const CREATE_ADR_FILE_PY = `
import json, sqlite3, sys
path, ddl, rows = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
conn = sqlite3.connect(path, timeout=5)
conn.execute(ddl)
with conn:
    conn.executemany("INSERT INTO market_data VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
conn.close()
print(json.dumps({"ok": True}))
`;

interface FileReport {
  user_version: number;
  journal_mode: string;
  objects: string[][];
  market_data_sql: string;
  rows: [string, number | string, number, number, number, number, number, number][];
}

/** What another client sees in the file: schema version, schema objects and every bar. */
const INSPECT_PY = `
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=5)
out = {
    "user_version": conn.execute("PRAGMA user_version").fetchone()[0],
    "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
    "objects": [list(r) for r in conn.execute("SELECT type, name FROM sqlite_master ORDER BY type, name")],
    "market_data_sql": conn.execute("SELECT sql FROM sqlite_master WHERE name = 'market_data'").fetchone()[0],
    "rows": [list(r) for r in conn.execute(
        "SELECT symbol, timestamp, open, high, low, close, volume, amount FROM market_data ORDER BY symbol, timestamp")],
}
conn.close()
print(json.dumps(out))
`;

describe("a Python sqlite3 client sharing the file", () => {
  test(
    "reads only whole committed batches, never less than before, while tradelite writes, and neither side sees SQLITE_BUSY",
    async () => {
      const db = openDatabase({ path: dbPath });
      const batches = 50;
      const ready = path.join(dir, "reader.ready");
      try {
        const reader = startPython<ReaderReport>(READER_PY, [
          dbPath, "600519", String(BASE), String(BATCH), String(batches * BATCH), ready,
        ]);
        await waitForReady(reader, ready);
        for (let k = 0; k < batches; k++) {
          // A throw here (SQLITE_BUSY included) fails the test.
          expect(db.insertBars("600519", seriesBars(BASE, k * BATCH, BATCH))).toBe(BATCH);
          await Bun.sleep(40);
        }
        const report = await reader.result;

        expect(report.errors).toEqual([]);
        expect(report.bad).toEqual([]);
        expect(report.journal_mode).toBe("wal");
        expect(report.columns).toEqual(ADR_COLUMNS);
        expect(report.counts[report.counts.length - 1]).toBe(batches * BATCH);
        for (let i = 1; i < report.counts.length; i++) {
          expect(report.counts[i]!).toBeGreaterThan(report.counts[i - 1]!);
        }
        for (const count of report.counts) expect(count % BATCH).toBe(0);
        // The reader really ran during the writes: it saw many intermediate states.
        const intermediate = report.counts.filter((count) => count > 0 && count < batches * BATCH);
        expect(intermediate.length).toBeGreaterThanOrEqual(10);
        expect(db.overview()).toEqual([
          { symbol: "600519", count: batches * BATCH, start: BASE, end: BASE + (batches * BATCH - 1) * 60_000 },
        ]);
      } finally {
        db.close();
      }
    },
    30_000,
  );

  test(
    "bars a Python recorder commits in its own transactions appear exactly in getBars while tradelite writes another symbol, with no SQLITE_BUSY",
    async () => {
      const db = openDatabase({ path: dbPath });
      const pythonBatches = 40;
      const bunBatches = 40;
      const pythonBase = BASE + 7 * 86_400_000;
      const ready = path.join(dir, "writer.ready");
      try {
        const writer = startPython<WriterReport>(WRITER_PY, [
          dbPath, "PYREC", String(pythonBase), String(BATCH), String(pythonBatches), ready,
        ]);
        await waitForReady(writer, ready);
        const seen: number[] = [];
        for (let k = 0; k < bunBatches; k++) {
          expect(db.insertBars("600519", seriesBars(BASE, k * BATCH, BATCH))).toBe(BATCH);
          const recorded = db.getBars("PYREC");
          // Committed batches only, in order: row i is the recorder's bar i.
          expect(recorded.length % BATCH).toBe(0);
          expect(recorded).toEqual(seriesBars(pythonBase, 0, recorded.length));
          seen.push(recorded.length);
          await Bun.sleep(20);
        }
        const report = await writer.result;

        expect(report.errors).toEqual([]);
        expect(report.transactions).toBe(pythonBatches);
        expect(report.written).toBe(pythonBatches * BATCH);
        for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
        // The two writers overlapped: tradelite saw the recorder's table part-way through.
        expect(seen.some((count) => count > 0 && count < pythonBatches * BATCH)).toBe(true);

        expect(db.getBars("PYREC")).toEqual(seriesBars(pythonBase, 0, pythonBatches * BATCH));
        expect(db.getBars("600519")).toEqual(seriesBars(BASE, 0, bunBatches * BATCH));
        expect(db.overview().map(({ symbol, count }) => ({ symbol, count }))).toEqual([
          { symbol: "600519", count: bunBatches * BATCH },
          { symbol: "PYREC", count: pythonBatches * BATCH },
        ]);
      } finally {
        db.close();
      }
    },
    30_000,
  );

  test("after close() with no other client, no -wal or -shm file is left and Python reads every row", async () => {
    const db = openDatabase({ path: dbPath });
    db.insertBars("600519", seriesBars(BASE, 0, 1_000));
    db.insertBars("000001.SH", seriesBars(BASE, 0, 500));
    expect(fs.existsSync(`${dbPath}-wal`)).toBe(true);
    db.close();

    expect(fs.readdirSync(dir)).toEqual(["trading.db"]);
    const file = await runPython<FileReport>(INSPECT_PY, [dbPath]);
    expect(file.user_version).toBe(SCHEMA_VERSION);
    const expected = [
      ...seriesBars(BASE, 0, 500).map((bar) => ["000001.SH", ...Object.values(bar)]),
      ...seriesBars(BASE, 0, 1_000).map((bar) => ["600519", ...Object.values(bar)]),
    ];
    expect(file.rows).toEqual(expected as FileReport["rows"]);
  });
});

describe("adopting a market_data table another program created", () => {
  const rows = [
    ["600519", BASE, 1700, 1710, 1695, 1705, 1200, 2_046_000],
    ["600519", BASE + 60_000, 1705, 1708, 1701, 1702, 800, 1_361_600],
    ["600519", BASE + 120_000, 1702, 1702, 1690.5, 1691, 1500, 2_536_500],
    ["000858", BASE, 150.25, 151, 150, 150.5, 300, 45_150],
  ] as const;

  test("a file created with the ADR's DDL and integer epoch-ms rows is adopted: rows kept, upserts land in it, user_version set", async () => {
    await runPython(CREATE_ADR_FILE_PY, [dbPath, ADR_DDL, JSON.stringify(rows)]);

    const db = openDatabase({ path: dbPath });
    try {
      expect(db.schemaVersion).toBe(SCHEMA_VERSION);
      const bar = (r: (typeof rows)[number]) => ({
        timestamp: r[1], open: r[2], high: r[3], low: r[4], close: r[5], volume: r[6], amount: r[7],
      });
      expect(db.getBars("600519")).toEqual(rows.slice(0, 3).map(bar));
      expect(db.getBars("000858")).toEqual([bar(rows[3])]);
      // One row replaces the recorder's 09:32 bar, one is new.
      const upserts = [
        { timestamp: BASE + 60_000, open: 1705, high: 1709, low: 1700, close: 1700, volume: 900, amount: 1_532_000 },
        { timestamp: BASE + 180_000, open: 1691, high: 1693, low: 1689, close: 1692, volume: 700, amount: 1_184_400 },
      ];
      expect(db.insertBars("600519", upserts)).toBe(2);
      expect(db.getBars("600519")).toEqual([bar(rows[0]), upserts[0]!, bar(rows[2]), upserts[1]!]);
      // A rowid table moves last_insert_rowid() at every row, so this file keeps the row switch
      // (src/sqlite/own-write.ts): the batch is counted once and logged once, not per row too.
      const appended = [1, 2].map((minute) => ({ ...bar(rows[3]), timestamp: BASE + minute * 60_000 }));
      expect(db.insertBars("000858", appended)).toBe(2);
      expect(db.overview().map((row) => [row.symbol, row.count])).toEqual([["000858", 3], ["600519", 4]]);
      const logged = new SqliteDatabase(dbPath, { readonly: true });
      try {
        expect(logged.query("SELECT symbol, kind FROM bar_changes ORDER BY seq").all()).toEqual([
          { symbol: "600519", kind: "upsert" },
          { symbol: "000858", kind: "upsert" },
        ]);
      } finally {
        logged.close();
      }
    } finally {
      db.close();
    }

    const file = await runPython<FileReport>(INSPECT_PY, [dbPath]);
    expect(file.user_version).toBe(SCHEMA_VERSION);
    // Adopted in place, not recreated: the table is still the one Python declared.
    expect(file.market_data_sql).not.toContain("WITHOUT ROWID");
    expect(file.rows).toEqual([
      [...rows[3]],
      ["000858", BASE + 60_000, 150.25, 151, 150, 150.5, 300, 45_150],
      ["000858", BASE + 120_000, 150.25, 151, 150, 150.5, 300, 45_150],
      [...rows[0]],
      ["600519", BASE + 60_000, 1705, 1709, 1700, 1700, 900, 1_532_000],
      [...rows[2]],
      ["600519", BASE + 180_000, 1691, 1693, 1689, 1692, 700, 1_184_400],
    ]);
  });

  const textRows = [
    ["600519", "2024-01-15 09:31:00", 1700, 1710, 1695, 1705, 1200, 2_046_000],
    ["600519", "2024-01-15 09:32:00", 1705, 1708, 1701, 1702, 800, 1_361_600],
  ] as const;

  async function textTimestampFile(): Promise<FileReport> {
    await runPython(CREATE_ADR_FILE_PY, [dbPath, ADR_DDL, JSON.stringify(textRows)]);
    return runPython<FileReport>(INSPECT_PY, [dbPath]);
  }

  function openRefused(): unknown {
    try {
      openDatabase({ path: dbPath, timezone: "Asia/Shanghai" }).close();
    } catch (error) {
      return error;
    }
    return undefined;
  }

  test("a file whose market_data holds TEXT timestamps is refused with SCHEMA_MISMATCH; user_version and rows stay as they were", async () => {
    await textTimestampFile();

    const error = openRefused();
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe("SCHEMA_MISMATCH");
    expect((error as StorageError).message).toContain("2024-01-15 09:31:00");

    const after = await runPython<FileReport>(INSPECT_PY, [dbPath]);
    expect(after.user_version).toBe(0);
    expect(after.rows).toEqual(textRows.map((row) => [...row]));
  });

  test("refusing a file with TEXT timestamps adds no table or index to it and keeps its journal mode", async () => {
    const before = await textTimestampFile();
    expect(before.journal_mode).toBe("delete");

    expect(openRefused()).toBeInstanceOf(StorageError);

    const after = await runPython<FileReport>(INSPECT_PY, [dbPath]);
    expect(after.objects).toEqual(before.objects);
    expect(after.journal_mode).toBe("delete");
  });
});
