/**
 * market_data_summary on SQLite (src/sqlite/summary.ts): overview() equals a full GROUP BY
 * recount of the file after every write, tradelite's or another program's (Python's sqlite3 in
 * its own process, with the statements a recorder uses: plain inserts, INSERT OR REPLACE, OR
 * IGNORE, upserts, range deletes, key moves); migration 11 fills the table from the rows a file
 * already holds.
 */
import { Database as SqliteDatabase } from "bun:sqlite";
import { afterEach, beforeEach, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openDatabase, type Database, type SymbolOverview } from "../../src/mod.ts";
import { mergeOverviews } from "../../src/domain/daily.ts";
import { randomBars } from "../support/bars.ts";
import { runPython } from "../support/interop-python.ts";
import { dropChangeLog } from "../support/watch.ts";
import { dropDerivedDays } from "../support/derived-days-schema.ts";

const MINUTE = 60_000;
const T0 = Date.UTC(2024, 0, 15, 1, 31);

let dir: string;
let file: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tradelite-summary-"));
  file = path.join(dir, "trading.db");
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** What overview() said before the summary: GROUP BY over both bar tables, on a connection of its own. */
function recount(at: string): SymbolOverview[] {
  const raw = new SqliteDatabase(at, { readonly: true });
  try {
    const grouped = (table: string) =>
      raw.query(`SELECT symbol, count(*) AS count, min(timestamp) AS start, max(timestamp) AS "end" FROM ${table} GROUP BY symbol ORDER BY symbol`).all() as SymbolOverview[];
    return mergeOverviews(grouped("market_data"), grouped("market_data_daily") as never);
  } finally {
    raw.close();
  }
}

const stamps = (from: number, count: number) => Array.from({ length: count }, (_, i) => T0 + (from + i) * MINUTE);

/** One statement per argv entry, each in its own commit, as a recorder writes. */
const WRITER_PY = `
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=5)
for statement in json.loads(sys.argv[2]):
    sql, params = statement[0], statement[1:]
    try:
        conn.execute(sql, params)
        conn.commit()
    except sqlite3.DatabaseError as error:
        conn.rollback()
        print(json.dumps({"error": str(error)}))
        sys.exit(0)
print(json.dumps({"error": None}))
`;

async function python(statements: readonly (readonly unknown[])[]): Promise<string | null> {
  const { error } = await runPython<{ error: string | null }>(WRITER_PY, [file, JSON.stringify(statements)]);
  return error;
}

function seeded(): Database {
  const db = openDatabase({ path: file });
  db.insertBars("600519.SH", randomBars(stamps(0, 240)));
  db.insertBars("000001.SZ", randomBars(stamps(0, 10)));
  db.insertBars("000001.SZ", randomBars([Date.UTC(2024, 0, 12)]), { interval: "1d" });
  return db;
}

test("writes by Python's sqlite3 in another process leave overview() equal to a full recount, statement by statement", async () => {
  const db = seeded();
  const insert = "INSERT INTO market_data (symbol, timestamp, open, high, low, close, volume, amount) VALUES (?, ?, 1, 2, 0.5, 1.5, 100, 150)";
  const steps: [string, (readonly unknown[])[]][] = [
    ["new bars, one a new symbol", [[insert, "600519.SH", T0 + 240 * MINUTE], [insert, "600519.SH", T0 - MINUTE], [insert, "510300.SH", T0]]],
    ["INSERT OR REPLACE of a stored bar (its delete fires no trigger)", [[insert.replace("INSERT", "INSERT OR REPLACE"), "600519.SH", T0 + 5 * MINUTE]]],
    ["INSERT OR IGNORE of a stored bar and of a new one", [[insert.replace("INSERT", "INSERT OR IGNORE"), "600519.SH", T0 + 6 * MINUTE], [insert.replace("INSERT", "INSERT OR IGNORE"), "600519.SH", T0 + 900 * MINUTE]]],
    ["upserts: DO UPDATE and DO NOTHING on stored bars", [[`${insert} ON CONFLICT (symbol, timestamp) DO UPDATE SET close = excluded.close`, "000001.SZ", T0], [`${insert} ON CONFLICT DO NOTHING`, "000001.SZ", T0 + MINUTE]]],
    ["a range delete through the first bar, one through the last", [["DELETE FROM market_data WHERE symbol = ? AND timestamp <= ?", "600519.SH", T0 + 20 * MINUTE], ["DELETE FROM market_data WHERE symbol = ? AND timestamp >= ?", "600519.SH", T0 + 200 * MINUTE]]],
    ["key moves: a symbol's bars shifted, one bar renamed to another symbol", [["UPDATE market_data SET timestamp = timestamp + 1000 WHERE symbol = ?", "000001.SZ"], ["UPDATE market_data SET symbol = ? WHERE symbol = ? AND timestamp = ?", "510300.SH", "600519.SH", T0 + 100 * MINUTE]]],
    ["a daily bar and a delete of every minute of one symbol", [["INSERT INTO market_data_daily (symbol, timestamp, close) VALUES (?, ?, 1)", "510300.SH", Date.UTC(2024, 0, 12)], ["DELETE FROM market_data WHERE symbol = ?", "000001.SZ"]]],
  ];
  for (const [what, statements] of steps) {
    expect({ what, error: await python(statements) }).toEqual({ what, error: null });
    expect({ what, overview: db.overview() }).toEqual({ what, overview: recount(file) });
  }
  // A move onto a stored key is refused: UPDATE OR REPLACE would delete the bar there unseen.
  const refused = await python([["UPDATE OR REPLACE market_data SET timestamp = ? WHERE symbol = ? AND timestamp = ?", T0 + 50 * MINUTE, "600519.SH", T0 + 51 * MINUTE]]);
  expect(refused).toContain("moving a bar onto an existing (symbol, timestamp) is refused");
  expect(db.overview()).toEqual(recount(file));
  expect(await python([["DELETE FROM market_data"], ["DELETE FROM market_data_daily"]])).toBeNull();
  expect(db.overview()).toEqual([]);
  db.close();
});

test("overview() equals the GROUP BY recount on generated data, and restamps and tradelite's deletes keep it so", () => {
  const db = openDatabase({ path: file });
  let seed = 7;
  for (let s = 0; s < 40; s++) {
    const symbol = `${600_000 + s}.SH`;
    for (let batch = 0; batch < 3; batch++) db.insertBars(symbol, randomBars(stamps(batch * 200 + ((s * 37) % 90), 240), ++seed));
    if (s % 5 === 0) db.deleteBars(symbol, { start: T0 + 100 * MINUTE, end: T0 + 300 * MINUTE });
    if (s % 7 === 0) db.insertBars(symbol, randomBars([Date.UTC(2024, 0, 12), Date.UTC(2024, 0, 11)], seed), { interval: "1d" });
  }
  expect(db.overview()).toEqual(recount(file));
  db.updateSettings({ barTimestamp: "end" }, { restamp: "1m" });
  expect(db.overview()).toEqual(recount(file));
  db.deleteBars("600000.SH");
  expect(db.overview()).toEqual(recount(file));
  db.close();
});

test("migration 11 fills the summary from the bars a file already holds", () => {
  seeded().close();
  const raw = new SqliteDatabase(file);
  dropDerivedDays(raw);
  const triggers = raw.query("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'market_data%summary%'").all() as { name: string }[];
  expect(triggers.length).toBe(8);
  for (const { name } of triggers) raw.run(`DROP TRIGGER "${name}"`);
  raw.run("DROP TABLE market_data_summary");
  raw.run("DROP TABLE market_data_summary_writer");
  dropChangeLog(raw);
  raw.run("DROP TABLE audit_pending");
  raw.run("PRAGMA user_version = 10");
  // Written while no trigger was there: the migration's GROUP BY must count these too.
  raw.run("INSERT INTO market_data (symbol, timestamp, close) VALUES ('510300.SH', ?, 1)", [T0]);
  raw.close();
  const db = openDatabase({ path: file });
  expect(db.schemaVersion).toBe(15);
  expect(db.overview()).toEqual(recount(file));
  expect(db.overview().map((row) => row.symbol)).toEqual(["000001.SZ", "510300.SH", "600519.SH"]);
  db.close();
});
