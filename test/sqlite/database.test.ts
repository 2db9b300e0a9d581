import { Database as RawDatabase } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { SCHEMA_VERSION } from "../../src/sqlite/migrations.ts";
import { getDatabase, openDatabase, StorageError, ValidationError, type Database } from "../../src/mod.ts";
import { randomBars } from "../support/bars.ts";
import { thrown } from "../support/errors.ts";
import { tempDir } from "../support/files.ts";
import { startPython, waitForReady } from "../support/interop-python.ts";

const T0 = Date.UTC(2024, 0, 2, 1, 31);
const bars = (count: number, seed = 1) => randomBars(Array.from({ length: count }, (_, i) => T0 + i * 60_000), seed);

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => dir.cleanup());


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
    const cases: [Record<string, unknown>, string][] = [
      [{ timezone: "Mars/Olympus" }, "timezone"],
      [{ synchronous: "OFF" }, "synchronous"],
      [{ path: "" }, "path"],
      [{ path: "a\u0000b.db" }, "path"],
      [{ colour: "red" }, "colour"],
      [{ busyTimeoutMs: -1 }, "busyTimeoutMs"],
    ];
    for (const [options, field] of cases) {
      const error = thrown(() => openDatabase(options as never));
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((issue) => issue.field)).toContain(field);
    }
  });

  test("a path whose folder cannot be created is a StorageError, not a raw fs error", () => {
    writeFileSync(dir.file("plain-file"), "not a folder");
    const error = thrown(() => openDatabase({ path: dir.file("plain-file/trading.db") }));
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe("SQLITE_CANTOPEN");
  });

  test("several processes opening one new file at once all succeed, and the schema is made once", async () => {
    const path = dir.file("shared.db");
    const mod = JSON.stringify(new URL("../../src/mod.ts", import.meta.url).pathname);
    const script = `import { openDatabase } from ${mod};
const db = openDatabase({ path: process.argv[2] });
db.insertBars("P" + process.argv[3], [{ timestamp: 1, close: 1 }]);
db.close();`;
    writeFileSync(dir.file("open.ts"), script);
    const children = Array.from({ length: 6 }, (_, i) =>
      Bun.spawn(["bun", dir.file("open.ts"), path, String(i)], { stdout: "pipe", stderr: "pipe" }),
    );
    const results = await Promise.all(children.map(async (child) => ({ code: await child.exited, stderr: await new Response(child.stderr).text() })));
    expect(results).toEqual(Array.from({ length: 6 }, () => ({ code: 0, stderr: "" })));
    const db = openDatabase({ path });
    expect(db.overview().map((row) => row.symbol)).toEqual(["P0", "P1", "P2", "P3", "P4", "P5"]);
    expect(db.schemaVersion).toBe(SCHEMA_VERSION);
    db.close();
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
    const error = thrown(() => openDatabase({ path }));
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe("SCHEMA_TOO_NEW");
    expect((error as Error).message).toContain(`schema version ${SCHEMA_VERSION + 1}`);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  test("a file whose quotes table belongs to another program is refused and left as it was", () => {
    const path = dir.file("foreign.db");
    const raw = new RawDatabase(path);
    raw.run("CREATE TABLE quotes (id INTEGER PRIMARY KEY, text TEXT)");
    raw.run("INSERT INTO quotes (text) VALUES ('the trend is your friend')");
    raw.close();
    const before = readFileSync(path);
    const error = thrown(() => openDatabase({ path }));
    expect((error as StorageError).code).toBe("SCHEMA_MISMATCH");
    expect((error as Error).message).toContain("quotes");
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  test("an adopted market_data with timestamps outside epoch ms 0001-9999 (nanoseconds) is refused", () => {
    const path = dir.file("nanos.db");
    const raw = new RawDatabase(path);
    raw.run(
      "CREATE TABLE market_data (symbol TEXT NOT NULL, timestamp TIMESTAMP NOT NULL, open REAL, high REAL, " +
        "low REAL, close REAL, volume INTEGER, amount REAL, PRIMARY KEY (symbol, timestamp))",
    );
    raw.run("INSERT INTO market_data (symbol, timestamp, close) VALUES ('S', 1705282260000000000, 1)");
    raw.close();
    const error = thrown(() => openDatabase({ path }));
    expect((error as StorageError).code).toBe("SCHEMA_MISMATCH");
    expect((error as Error).message).toContain("1705282260000000000");
    const check = new RawDatabase(path, { readonly: true });
    expect(check.query("PRAGMA user_version").get()).toEqual({ user_version: 0 });
    check.close();
  });

  test("a file that is not a database is refused with SQLite's code", () => {
    const path = dir.file("notes.db");
    writeFileSync(path, "this is not a database file, just text that is long enough to have a header".repeat(20));
    const error = thrown(() => openDatabase({ path }));
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
    const error = thrown(() => reader.insertBars("S", bars(1, 2)));
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toStartWith("SQLITE_READONLY");
    expect(reader.getBars("S")).toEqual(bars(5));
    reader.close();
  });

  test("a missing file is not created when opened read-only", () => {
    const error = thrown(() => openDatabase({ path: dir.file("missing.db"), readonly: true }));
    expect(error).toBeInstanceOf(StorageError);
    expect(existsSync(dir.file("missing.db"))).toBe(false);
  });

  test("an unmigrated file opened read-only asks to be opened read-write once", () => {
    const path = dir.file("plain.db");
    new RawDatabase(path).close();
    const error = thrown(() => openDatabase({ path, readonly: true }));
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
    const calls = [
      () => db.getBars("S"),
      () => db.iterateBars("S"),
      () => db.latestBar("S"),
      () => db.deleteBars("S"),
      () => db.insertBars("S", bars(1)),
      () => db.overview(),
      () => db.insertQuotes("S", []),
      () => db.getQuotes("S"),
      () => db.settings(),
    ];
    for (const call of calls) expect((thrown(call) as StorageError).code).toBe("CLOSED");
  });

  test("an iteration still running when the database closes fails with CLOSED on its next page", () => {
    for (const [name, query] of [["plain.db", {}], ["resampled.db", { interval: "1m" as const }]] as const) {
      const db = openDatabase({ path: dir.file(name) });
      db.insertBars("S", bars(20_000));
      const iterator = db.iterateBars("S", query);
      expect(iterator.next().done).toBe(false);
      db.close();
      const error = thrown(() => {
        for (const _bar of iterator) {
          // draining past the first page reaches the closed connection
        }
      });
      expect((error as StorageError).code).toBe("CLOSED");
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
    const error = thrown(() => db.insertBars("S", batch));
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe("SQLITE_CONSTRAINT_TRIGGER");
    expect(db.overview()).toEqual([{ symbol: "S", count: 10, start: bars(10)[0]!.timestamp, end: bars(10)[9]!.timestamp }]);
    db.close();
  });

  /** Starts a Python process that holds the write lock for `seconds`, resolved once it has it. */
  async function holdWriteLock(path: string, seconds: number) {
    const ready = dir.file(`locked-${Math.random().toString(36).slice(2)}`);
    const python = startPython<{ held: number }>(
      `import json, sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
con.execute("INSERT INTO market_data (symbol, timestamp, close) VALUES ('PY', 1, 5)")
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
con.execute("COMMIT")
print(json.dumps({"held": float(sys.argv[3])}))`,
      [path, ready, String(seconds)],
    );
    await waitForReady(python, ready);
    return python;
  }

  test("a writer waits for another process's write lock within busy_timeout", async () => {
    const path = dir.file("a.db");
    const db = openDatabase({ path, busyTimeoutMs: 10_000 });
    const holder = await holdWriteLock(path, 0.5);
    const started = performance.now();
    expect(db.insertBars("S", bars(5))).toBe(5);
    expect(performance.now() - started).toBeGreaterThan(100);
    expect(await holder.result).toEqual({ held: 0.5 });
    // The wait is a recovery metric.
    const [wait] = db.metrics.query("sqlite.busy_wait.ms");
    expect(wait!.value).toBeGreaterThan(100);
    expect(db.getBars("PY")).toEqual([{ timestamp: 1, open: null, high: null, low: null, close: 5, volume: null, amount: null }]);
    db.close();
  });

  test("a lock held past busy_timeout surfaces as StorageError SQLITE_BUSY and writes nothing", async () => {
    const path = dir.file("a.db");
    const db = openDatabase({ path, busyTimeoutMs: 50 });
    const holder = await holdWriteLock(path, 1);
    const error = thrown(() => db.insertBars("S", bars(5)));
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toStartWith("SQLITE_BUSY");
    await holder.result;
    expect(db.getBars("S")).toEqual([]);
    db.close();
  });

  test("close() while another process holds the write lock still closes, without throwing", async () => {
    const path = dir.file("a.db");
    const db = openDatabase({ path, busyTimeoutMs: 50 });
    db.insertBars("S", bars(5));
    const holder = await holdWriteLock(path, 1);
    expect(() => db.close()).not.toThrow();
    expect(db.closed).toBe(true);
    await holder.result;
    const reopened = openDatabase({ path });
    expect(reopened.getBars("S")).toEqual(bars(5));
    reopened.close();
  });
});

describe("transaction", () => {
  let db: Database;
  beforeEach(() => {
    db = openDatabase({ path: dir.file("trading.db") });
  });
  afterEach(() => db.close());

  test("a transaction commits every store call made in it, or none of them", () => {
    db.transaction(() => {
      db.prefs.set("a", 1);
      db.prefs.set("b", 2);
    });
    expect(db.prefs.all().map((preference) => preference.key)).toEqual(["a", "b"]);
    expect(thrown(() => db.transaction(() => {
      db.prefs.set("c", 3);
      throw new Error("changed my mind");
    }))).toBeInstanceOf(Error);
    expect(db.prefs.get("c")).toBeNull();
    expect(db.audit.verify()).toEqual({ ok: true, checked: 2 });
  });

  test("an async function is refused and rolled back: writes after its first await would escape the transaction", async () => {
    const error = thrown(() =>
      db.transaction((async () => {
        db.prefs.set("before-await", 1);
        await Bun.sleep(1);
      }) as never),
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]!.field).toBe("work");
    expect(db.prefs.get("before-await")).toBeNull();
    // The same inside an outer transaction: the savepoint rolls back, the outer one goes on.
    db.transaction(() => {
      db.prefs.set("outer", 1);
      expect(thrown(() => db.transaction((async () => db.prefs.set("inner", 1)) as never))).toBeInstanceOf(ValidationError);
    });
    expect(db.prefs.all().map((preference) => preference.key)).toEqual(["outer"]);
    await Bun.sleep(5);
  });

  test("a transaction of something that is not a function is a ValidationError, and the lock is free after", () => {
    expect(thrown(() => db.transaction(123 as never))).toBeInstanceOf(ValidationError);
    expect(db.prefs.set("k", 1).value).toBe(1);
  });
});
