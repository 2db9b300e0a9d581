/**
 * store.watch() on the in-thread SQLite store (the conformance suite), and what only a shared
 * file shows: Python's sqlite3 writing in another process, a cursor older than the trimmed
 * change log (and its trimming), the sync Database's watch, and a cursor from another file.
 */
import { afterAll, expect, test } from "bun:test";
import { Database as SqliteDatabase } from "bun:sqlite";
import { openDatabase, openStore, ValidationError } from "../../src/mod.ts";
import { tempDir } from "../support/files.ts";
import { startPython } from "../support/interop-python.ts";
import { take } from "../support/watch.ts";
import { watchConformance } from "../support/watch-conformance.ts";
import { resolveDatabaseOptions } from "../../src/config.ts";
import { openConnection } from "../../src/sqlite/connection.ts";
import { migrate } from "../../src/sqlite/migrations.ts";
import { prepareChangeLog, prepareChangeLogReader, prepareChangeTrim } from "../../src/sqlite/changes.ts";

const dir = tempDir("tradelite-sqlite-watch-");
afterAll(() => dir.cleanup());
let files = 0;
const MINUTE = 60_000;
const T0 = Date.UTC(2024, 0, 2, 1, 31);
const bar = (i: number) => ({ timestamp: T0 + i * MINUTE, open: 10, high: 11, low: 9, close: 10.5, volume: 100 + i });

watchConformance("sqlite", async () => {
  const path = dir.file(`watch-${++files}.db`);
  return { store: await openStore({ backend: "sqlite", path }), location: { backend: "sqlite", path }, raw: { path } };
});

test("rows Python's sqlite3 writes in another process (one by one, and many in one transaction, with an upsert) arrive once each, in order", async () => {
  const path = dir.file(`python-${++files}.db`);
  const store = await openStore({ backend: "sqlite", path });
  try {
    const watch = store.watch({ symbols: ["600519.SH"] });
    await watch.ready;
    const python = startPython<{ written: number }>(
      `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=5, isolation_level=None)
t0 = int(sys.argv[2])
row = lambda i: ("600519.SH", t0 + i * 60000, 10, 11, 9, 10.5, 100 + i)
for i in range(20):
    db.execute("INSERT INTO market_data (symbol, timestamp, open, high, low, close, volume) VALUES (?, ?, ?, ?, ?, ?, ?)", row(i))
db.execute("BEGIN")
db.executemany("INSERT INTO market_data (symbol, timestamp, open, high, low, close, volume) VALUES (?, ?, ?, ?, ?, ?, ?)", [row(i) for i in range(20, 60)])
db.execute("COMMIT")
db.execute("INSERT INTO market_data (symbol, timestamp, open, high, low, close, volume) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (symbol, timestamp) DO UPDATE SET close = 10.75", row(59))
print('{"written": 61}')
`,
      [path, String(T0)],
    );
    const events = await take(watch, 61);
    expect((await python.result).written).toBe(61);
    expect(events.map((event) => (event.bar.timestamp - T0) / MINUTE)).toEqual([...Array.from({ length: 60 }, (_, i) => i), 59]);
    expect(events[60]!.bar.close).toBe(10.75);
    await watch.return();
  } finally {
    await store.close();
  }
});

test("a cursor older than the change log keeps replays from the oldest row kept, and its first event says so", async () => {
  const path = dir.file(`trimmed-${++files}.db`);
  const store = await openStore({ backend: "sqlite", path });
  try {
    const start = await store.watch().ready;
    for (let i = 0; i < 6; i++) await store.insertBars("600519.SH", [bar(i)]);
    // What insertBars' trim does past the kept rows (src/sqlite/changes.ts), done to the first three.
    const raw = new SqliteDatabase(path);
    raw.run("DELETE FROM bar_changes WHERE seq <= 3");
    raw.run("UPDATE bar_changes_state SET trimmed = 3");
    raw.close();
    const watch = store.watch({ since: start });
    const events = await take(watch, 3);
    expect(events.map((event) => (event.bar.timestamp - T0) / MINUTE)).toEqual([3, 4, 5]);
    expect(events[0]!.gap).toBe(true);
    expect(events[1]!.gap).toBeUndefined();
    await watch.return();
  } finally {
    await store.close();
  }
});

test("the sync Database watches too, and refuses another file's cursor", async () => {
  const db = openDatabase({ path: dir.file(`db-${++files}.db`) });
  const other = openDatabase({ path: dir.file(`db-${++files}.db`) });
  try {
    const watch = db.watch({ symbols: ["600519.SH"] });
    await watch.ready;
    db.insertBars("600519.SH", [bar(0), bar(1)]);
    const events = await take(watch, 2);
    expect(events.map((event) => event.bar.timestamp)).toEqual([T0, T0 + MINUTE]);
    await watch.return();
    const foreign = other.watch({ since: events[1]!.cursor });
    const failure = await foreign.ready.catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ValidationError);
    expect((failure as ValidationError).issues[0]!.field).toBe("since");
    expect((failure as Error).message).toMatch(/another database/);
  } finally {
    db.close();
    other.close();
  }
});

test("insertBars' change rows are trimmed past the kept count, a bounded step at a time, and the state records how far", () => {
  const conn = openConnection(resolveDatabaseOptions({ path: dir.file(`trim-${++files}.db`) }));
  try {
    migrate(conn);
    const log = prepareChangeLogReader(conn);
    // Keep 10, trim every 4th seq: the last trim ran at seq 28 and took seqs up to 18.
    const appendChange = prepareChangeLog(conn, 10, 4);
    for (let i = 1; i <= 30; i++) conn.writeTransaction(() => appendChange("600519.SH", T0 + i * MINUTE, T0 + i * MINUTE));
    const rows = log.rows(0, 100);
    expect(rows.map((row) => row.seq)).toEqual(Array.from({ length: 12 }, (_, i) => 19 + i));
    expect(rows[0]).toEqual({ seq: 19, symbol: "600519.SH", series: "minutes", first: T0 + 19 * MINUTE, last: T0 + 19 * MINUTE, kind: "upsert", txn: null });
    expect(log.state()).toMatchObject({ head: 30, trimmed: 18 });
    // What maintenance.optimize() runs: everything past the kept rows at once.
    expect(conn.writeTransaction(() => prepareChangeTrim(conn, 5)(log.head(), -1))).toBe(7);
    expect(log.rows(0, 100).map((row) => row.seq)).toEqual([26, 27, 28, 29, 30]);
    expect(log.state()).toMatchObject({ head: 30, trimmed: 25 });
  } finally {
    conn.close();
  }
});
