import { Database as RawDatabase } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import {
  getDatabase,
  openDatabase,
  SCHEMA_VERSION,
  StorageError,
  ValidationError,
} from "../../src/mod.ts";
import { randomBars } from "../support/bars.ts";
import { tempDir } from "../support/files.ts";
import { runPython } from "../support/interop-python.ts";

const T0 = Date.UTC(2024, 0, 2, 1, 31);
const bars = (count: number, seed = 1) => randomBars(Array.from({ length: count }, (_, i) => T0 + i * 60_000), seed);

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => dir.cleanup());

function caught(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}

describe("connection settings", () => {
  test("a new file is WAL, NORMAL sync, incremental auto-vacuum, foreign keys on, temp in memory", () => {
    const db = openDatabase({ path: dir.file("a.db") });
    expect(db.settings()).toMatchObject({
      journalMode: "wal",
      synchronous: "NORMAL",
      busyTimeoutMs: 5_000,
      foreignKeys: true,
      tempStore: "MEMORY",
      autoVacuum: "INCREMENTAL",
      journalSizeLimit: 64 * 1024 * 1024,
    });
    db.close();
  });

  test("synchronous FULL and a custom busy timeout are applied", () => {
    const db = openDatabase({ path: dir.file("a.db"), synchronous: "FULL", busyTimeoutMs: 250 });
    expect(db.settings()).toMatchObject({ synchronous: "FULL", busyTimeoutMs: 250 });
    db.close();
  });

  test("the default path comes from TRADELITE_DB and missing folders are created", () => {
    const previous = process.env.TRADELITE_DB;
    process.env.TRADELITE_DB = dir.file("nested/deeper/trading.db");
    try {
      const db = openDatabase();
      expect(db.path).toBe(dir.file("nested/deeper/trading.db"));
      expect(existsSync(db.path)).toBe(true);
      db.close();
    } finally {
      if (previous === undefined) delete process.env.TRADELITE_DB;
      else process.env.TRADELITE_DB = previous;
    }
  });

  test("getDatabase returns one process-wide instance until it is closed", () => {
    const previous = process.env.TRADELITE_DB;
    process.env.TRADELITE_DB = dir.file("default.db");
    try {
      const first = getDatabase();
      expect(getDatabase()).toBe(first);
      expect(first.path).toBe(dir.file("default.db"));
      first.insertBars("600519", bars(3));
      first.close();
      const second = getDatabase();
      expect(second).not.toBe(first);
      expect(second.getBars("600519")).toEqual(bars(3));
      second.close();
    } finally {
      if (previous === undefined) delete process.env.TRADELITE_DB;
      else process.env.TRADELITE_DB = previous;
    }
  });

  test("bad options are validation errors naming the option", () => {
    for (const options of [{ timezone: "Mars/Olympus" }, { synchronous: "OFF" }, { path: "" }, { colour: "red" }, { busyTimeoutMs: -1 }]) {
      const error = caught(() => openDatabase(options as never));
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.length).toBeGreaterThan(0);
    }
  });
});

describe("schema and migrations", () => {
  test("market_data has the ADR's columns, is WITHOUT ROWID, and user_version is the schema version", () => {
    const path = dir.file("a.db");
    openDatabase({ path }).close();
    const raw = new RawDatabase(path, { readonly: true });
    const columns = raw.query("SELECT name, type FROM pragma_table_info('market_data')").all();
    expect(columns).toEqual([
      { name: "symbol", type: "TEXT" },
      { name: "timestamp", type: "TIMESTAMP" },
      { name: "open", type: "REAL" },
      { name: "high", type: "REAL" },
      { name: "low", type: "REAL" },
      { name: "close", type: "REAL" },
      { name: "volume", type: "INTEGER" },
      { name: "amount", type: "REAL" },
    ]);
    const sql = (raw.query("SELECT sql FROM sqlite_master WHERE name = 'market_data'").get() as { sql: string }).sql;
    expect(sql).toContain("WITHOUT ROWID");
    expect(raw.query("PRAGMA user_version").get()).toEqual({ user_version: SCHEMA_VERSION });
    raw.close();
  });

  test("timestamps are stored as INTEGER epoch milliseconds", () => {
    const path = dir.file("a.db");
    const db = openDatabase({ path, timezone: "Asia/Shanghai" });
    db.insertBars("S", [{ timestamp: "2024-01-02 09:31", close: 10 }]);
    db.close();
    const raw = new RawDatabase(path, { readonly: true });
    expect(raw.query("SELECT typeof(timestamp) AS type, timestamp FROM market_data").get()).toEqual({
      type: "integer",
      timestamp: Date.parse("2024-01-02T09:31:00+08:00"),
    });
    raw.close();
  });

  test("reopening keeps the data and does not migrate again", () => {
    const path = dir.file("a.db");
    const first = openDatabase({ path });
    first.insertBars("S", bars(10));
    first.close();
    const second = openDatabase({ path });
    expect(second.schemaVersion).toBe(SCHEMA_VERSION);
    expect(second.getBars("S")).toEqual(bars(10));
    second.close();
  });

  test("a file from a newer schema version is refused and left untouched", () => {
    const path = dir.file("a.db");
    openDatabase({ path }).close();
    const raw = new RawDatabase(path);
    raw.run(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    const before = readFileSync(path);
    const error = caught(() => openDatabase({ path }));
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe("SCHEMA_TOO_NEW");
    expect((error as Error).message).toContain(`schema version ${SCHEMA_VERSION + 1}`);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  test("a file that is not a database is refused with SQLite's code", () => {
    const path = dir.file("notes.db");
    writeFileSync(path, "this is not a database file, just text that is long enough to have a header".repeat(20));
    const error = caught(() => openDatabase({ path }));
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe("SQLITE_NOTADB");
  });
});

describe("read-only", () => {
  test("reads work and writes are refused with a StorageError", () => {
    const path = dir.file("a.db");
    const writer = openDatabase({ path });
    writer.insertBars("S", bars(5));
    writer.close();
    const reader = openDatabase({ path, readonly: true });
    expect(reader.getBars("S")).toEqual(bars(5));
    const error = caught(() => reader.insertBars("S", bars(1, 2)));
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toStartWith("SQLITE_READONLY");
    expect(reader.getBars("S")).toEqual(bars(5));
    reader.close();
  });

  test("a missing file is not created when opened read-only", () => {
    const error = caught(() => openDatabase({ path: dir.file("missing.db"), readonly: true }));
    expect(error).toBeInstanceOf(StorageError);
    expect(existsSync(dir.file("missing.db"))).toBe(false);
  });

  test("an unmigrated file opened read-only asks to be opened read-write once", () => {
    const path = dir.file("plain.db");
    new RawDatabase(path).close();
    const error = caught(() => openDatabase({ path, readonly: true }));
    expect((error as StorageError).code).toBe("SCHEMA_OUTDATED");
  });
});

describe("closing", () => {
  test("a clean close leaves no -wal or -shm file, and close is idempotent", () => {
    const path = dir.file("a.db");
    const db = openDatabase({ path });
    db.insertBars("S", bars(1_000));
    db.getBars("S", { interval: "1h" });
    expect(existsSync(`${path}-wal`)).toBe(true);
    db.close();
    db.close();
    expect(readdirSync(dir.path)).toEqual(["a.db"]);
  });

  test("every method of a closed database throws StorageError CLOSED", () => {
    const db = openDatabase({ path: dir.file("a.db") });
    db.close();
    for (const call of [() => db.getBars("S"), () => db.insertBars("S", bars(1)), () => db.overview(), () => db.getQuotes("S")]) {
      expect((caught(call) as StorageError).code).toBe("CLOSED");
    }
  });
});

describe("atomicity and locking with a real second client", () => {
  test("a failure in the middle of a batch rolls the whole batch back", () => {
    const path = dir.file("a.db");
    const db = openDatabase({ path });
    db.insertBars("S", bars(10));
    const batch = bars(250, 2).map((bar) => ({ ...bar, timestamp: bar.timestamp + 1_000 * 60_000 }));
    // A trigger from another connection makes row 180 fail inside SQLite, after the first
    // 100-row statement has already run.
    const raw = new RawDatabase(path);
    raw.run(
      `CREATE TRIGGER refuse_one BEFORE INSERT ON market_data WHEN NEW.timestamp = ${batch[180]!.timestamp} ` +
        "BEGIN SELECT RAISE(ABORT, 'refused by test'); END",
    );
    raw.close();
    const error = caught(() => db.insertBars("S", batch));
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe("SQLITE_CONSTRAINT_TRIGGER");
    expect(db.overview()).toEqual([{ symbol: "S", count: 10, start: bars(10)[0]!.timestamp, end: bars(10)[9]!.timestamp }]);
    db.close();
  });

  test("a writer waits for another process's write lock within busy_timeout", async () => {
    const path = dir.file("a.db");
    const db = openDatabase({ path, busyTimeoutMs: 10_000 });
    const holder = runPython<{ locked: boolean }>(
      `import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
con.execute("INSERT INTO market_data (symbol, timestamp, close) VALUES ('PY', 1, 5)")
print('{"locked": true}', flush=True)
time.sleep(0.8)
con.execute("COMMIT")`,
      [path],
    );
    // Give python time to take the lock before writing.
    await Bun.sleep(400);
    const started = performance.now();
    expect(db.insertBars("S", bars(5))).toBe(5);
    expect(await holder).toEqual({ locked: true });
    expect(performance.now() - started).toBeGreaterThan(100);
    expect(db.getBars("PY")).toEqual([{ timestamp: 1, open: null, high: null, low: null, close: 5, volume: null, amount: null }]);
    db.close();
  });

  test("a lock held past busy_timeout surfaces as StorageError SQLITE_BUSY and writes nothing", async () => {
    const path = dir.file("a.db");
    const db = openDatabase({ path, busyTimeoutMs: 50 });
    const holder = runPython<{ locked: boolean }>(
      `import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
print('{"locked": true}', flush=True)
time.sleep(1.5)
con.execute("COMMIT")`,
      [path],
    );
    await Bun.sleep(500);
    const error = caught(() => db.insertBars("S", bars(5)));
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toStartWith("SQLITE_BUSY");
    expect(await holder).toEqual({ locked: true });
    expect(db.getBars("S")).toEqual([]);
    db.close();
  });
});
