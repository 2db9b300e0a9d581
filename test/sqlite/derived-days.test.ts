/**
 * market_data_days on SQLite (src/sqlite/derived-days.ts): reads take the derived rows (a row
 * changed behind tradelite's back shows), writes by Python's sqlite3 in another process are
 * caught by the triggers and answered on the fly until tradelite's next write settles them,
 * migration 12 builds nothing (constant time) and buildDerivedDays or a first write builds, and
 * a change of the zone setting falls back, then rebuilds.
 */
import { Database as SqliteDatabase } from "bun:sqlite";
import { afterEach, beforeEach, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openDatabase, type Database, type BarQuery } from "../../src/mod.ts";
import { sessionBars } from "../support/bars.ts";
import { runPython } from "../support/interop-python.ts";
import { dropDerivedDays } from "../support/derived-days-schema.ts";

const MINUTE = 60_000;
const SYMBOL = "600519.SH";
const bars = sessionBars(25, 21, "2024-01-29");

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tradelite-derived-"));
  file = path.join(dir, "trading.db");
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function open(): Database {
  return openDatabase({ path: file, timezone: "Asia/Shanghai", barTimestamp: "end" });
}

function expectEqual(db: Database, what: string, ranges: BarQuery[] = [{}, { start: bars[300]!.timestamp, end: bars[3000]!.timestamp }]): void {
  for (const interval of ["1d", "1w", "1M"] as const) {
    for (const range of ranges) {
      const query = { ...range, interval };
      expect({ what, query, bars: db.getBars(SYMBOL, query) }).toEqual({ what, query, bars: db.getBars(SYMBOL, { ...query, derived: false }) });
    }
  }
}

function raw<T>(sql: string, ...params: (string | number)[]): T[] {
  const conn = new SqliteDatabase(file);
  try {
    return conn.query(sql).all(...params) as T[];
  } finally {
    conn.close();
  }
}

const WRITER_PY = `
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=5)
for statement in json.loads(sys.argv[2]):
    conn.execute(statement[0], statement[1:])
    conn.commit()
print(json.dumps({"ok": True}))
`;

test("a 1d read takes the derived rows, clock or session-aligned: a row changed behind tradelite's back shows, the on-the-fly read does not", () => {
  const db = openDatabase({ path: file, timezone: "Asia/Shanghai", barTimestamp: "end", calendar: "XSHG" });
  for (let i = 0; i < bars.length; i += 240) db.insertBars(SYMBOL, bars.slice(i, i + 240));
  expect(raw<{ n: number }>("SELECT count(*) AS n FROM market_data_days WHERE symbol = ?", SYMBOL)[0]!.n).toBe(25);
  const day = db.getBars(SYMBOL, { interval: "1d" })[3]!;
  raw("UPDATE market_data_days SET close = 999 WHERE symbol = ? AND day = ?", SYMBOL, day.timestamp);
  expect(db.getBars(SYMBOL, { interval: "1d" })[3]!.close).toBe(999);
  expect(db.getBars(SYMBOL, { interval: "1d", align: "session" })[3]!.close).toBe(999);
  expect(db.getBars(SYMBOL, { interval: "1d", derived: false })[3]!.close).toBe(day.close);
  db.close();
});

test("writes by Python's sqlite3 are marked by the triggers, read on the fly, and settled by tradelite's next write", async () => {
  const db = open();
  for (let i = 0; i < bars.length; i += 240) db.insertBars(SYMBOL, bars.slice(i, i + 240));
  const insert = "INSERT INTO market_data (symbol, timestamp, open, high, low, close, volume, amount) VALUES (?, ?, 100, 300, 50, 120, 1234, 5678.25)";
  const steps: [string, (string | number)[][]][] = [
    ["new minutes: a new day after the last, and before the first", [[insert, SYMBOL, bars.at(-1)!.timestamp + 86_400_000], [insert, SYMBOL, bars[0]!.timestamp - 86_400_000]]],
    ["a minute inside an old day (before its first minute)", [[insert, SYMBOL, bars[480]!.timestamp - 30 * MINUTE]]],
    ["INSERT OR REPLACE of a stored minute", [[insert.replace("INSERT", "INSERT OR REPLACE"), SYMBOL, bars[700]!.timestamp]]],
    ["an upsert DO UPDATE and a plain UPDATE of old minutes", [[`${insert} ON CONFLICT (symbol, timestamp) DO UPDATE SET high = excluded.high`, SYMBOL, bars[1000]!.timestamp], ["UPDATE market_data SET close = close * 1.01, volume = volume + 0.5 WHERE symbol = ? AND timestamp BETWEEN ? AND ?", SYMBOL, bars[1500]!.timestamp, bars[1600]!.timestamp]]],
    ["a range delete across two days, a key move", [["DELETE FROM market_data WHERE symbol = ? AND timestamp BETWEEN ? AND ?", SYMBOL, bars[2000]!.timestamp, bars[2300]!.timestamp], ["UPDATE market_data SET timestamp = timestamp + 86400000 * 3 + 30000 WHERE symbol = ? AND timestamp = ?", SYMBOL, bars[2500]!.timestamp]]],
  ];
  for (const [what, statements] of steps) {
    expect(await runPython<{ ok: boolean }>(WRITER_PY, [file, JSON.stringify(statements)])).toEqual({ ok: true });
    expect(raw<{ n: number }>("SELECT count(*) AS n FROM market_data_days_dirty WHERE symbol = ?", SYMBOL)[0]!.n).toBeGreaterThan(0);
    expectEqual(db, what);
  }
  // tradelite's next write to the symbol recomputes the marked days and clears the marks.
  db.insertBars(SYMBOL, [{ ...bars[10]!, volume: 7 }]);
  expect(raw<{ n: number }>("SELECT count(*) AS n FROM market_data_days_dirty")[0]!.n).toBe(0);
  expectEqual(db, "settled");
  db.close();
});

test("migration 13 builds nothing; buildDerivedDays or a first write builds a symbol, and reads equal on-the-fly before and after", () => {
  let db = open();
  for (let i = 0; i < bars.length; i += 240) db.insertBars(SYMBOL, bars.slice(i, i + 240));
  db.insertBars("000001.SZ", bars.slice(0, 480));
  db.close();
  const conn = new SqliteDatabase(file);
  dropDerivedDays(conn);
  // Migration 14's (audit_pending) too: the file is as migration 12 left it.
  conn.run("DROP TABLE audit_pending");
  conn.run("PRAGMA user_version = 12");
  conn.close();
  db = open();
  expect(db.schemaVersion).toBe(15);
  expect(raw<{ n: number }>("SELECT count(*) AS n FROM market_data_days")[0]!.n).toBe(0);
  expectEqual(db, "not built: on the fly");
  db.insertBars("000001.SZ", bars.slice(480, 720));
  expect(raw<{ symbol: string }>("SELECT symbol FROM market_data_days_built")).toEqual([{ symbol: "000001.SZ" }]);
  expect(raw<{ n: number }>("SELECT count(*) AS n FROM market_data_days WHERE symbol = '000001.SZ'")[0]!.n).toBe(3);
  expect(db.buildDerivedDays()).toBe(1);
  expect(raw<{ n: number }>("SELECT count(*) AS n FROM market_data_days WHERE symbol = ?", SYMBOL)[0]!.n).toBe(25);
  expectEqual(db, "built");
  db.close();
});

test("a zone change leaves reads equal (on the fly) and the next write rebuilds in the new zone", () => {
  const db = open();
  for (let i = 0; i < bars.length; i += 240) db.insertBars(SYMBOL, bars.slice(i, i + 240));
  db.updateSettings({ timezone: "America/New_York" });
  expectEqual(db, "other zone");
  db.insertBars(SYMBOL, [bars[0]!]);
  expect(raw<{ basis: string }>("SELECT basis FROM market_data_days_basis")).toEqual([{ basis: "America/New_York end" }]);
  expectEqual(db, "rebuilt");
  db.close();
});

test("weeks and months are built from derived days when every sum is a whole number, and resampled when not", () => {
  const db = open();
  const whole = bars.map((bar) => ({ ...bar, amount: Math.round(bar.amount!) }));
  for (let i = 0; i < whole.length; i += 240) db.insertBars(SYMBOL, whole.slice(i, i + 240));
  db.insertBars("FRACTION", bars);
  const week = db.getBars(SYMBOL, { interval: "1w" })[1]!;
  const lastDayOfWeek = db.getBars(SYMBOL, { interval: "1d", start: week.timestamp, end: week.timestamp + 7 * 86_400_000 - 1 }).at(-1)!;
  raw("UPDATE market_data_days SET close = 999 WHERE day = ?", lastDayOfWeek.timestamp);
  expect(db.getBars(SYMBOL, { interval: "1w" })[1]!.close).toBe(999);
  expect(db.getBars(SYMBOL, { interval: "1w", derived: false })[1]!.close).toBe(week.close);
  // Amounts with cents: the week is resampled from the minutes, so the changed row does not show.
  const fractional = db.getBars("FRACTION", { interval: "1w", derived: false })[1]!;
  expect(db.getBars("FRACTION", { interval: "1w" })[1]).toEqual(fractional);
  db.close();
});

test("a batch that fails inside its upsert leaves the connection's later writes seen by the triggers (insertBars' switch is cleared)", () => {
  const db = open();
  for (let i = 0; i < 2_400; i += 240) db.insertBars(SYMBOL, bars.slice(i, i + 240));
  // Another program's trigger refuses one bar: insertBars fails after switching its triggers off.
  raw("CREATE TRIGGER refuse_666 BEFORE INSERT ON market_data WHEN NEW.close = 666 BEGIN SELECT RAISE(ABORT, 'refused'); END");
  const poisoned = bars.slice(2_400, 2_640).map((bar, i) => (i === 100 ? { ...bar, open: 666, high: 666, low: 666, close: 666 } : bar));
  expect(() => db.insertBars(SYMBOL, poisoned)).toThrow("refused");
  // A delete through the same connection is a write the triggers must mark (derived days) and log.
  const head = raw<{ seq: number }>("SELECT max(seq) AS seq FROM bar_changes")[0]!.seq;
  expect(db.deleteBars(SYMBOL, { start: bars[500]!.timestamp, end: bars[530]!.timestamp })).toBe(31);
  expect(raw<{ n: number }>("SELECT count(*) AS n FROM bar_changes WHERE seq > ? AND kind = 'delete'", head)[0]!.n).toBe(31);
  expectEqual(db, "after a failed batch and a delete", [{}]);
  expect(db.overview()[0]!.count).toBe(2_400 - 31);
  db.close();
});
