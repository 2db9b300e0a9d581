/**
 * market_data_daily on SQLite, in a file on disk, with real data: Tushare's daily file of Ping
 * An Bank beside the real TDX minute file, the migration of a file written before the table
 * existed (schema 7), and the data-quality comparison over real minutes.
 */
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { Database as SqliteDatabase } from "bun:sqlite";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { dailyDifferences, openDatabase, toEpochMs, ValidationError, type Bar, type BarInput, type Database } from "../../src/mod.ts";
import { SCHEMA_VERSION } from "../../src/sqlite/migrations.ts";
import { readTdxBars, TDX_INDEX_1MIN, type TdxBar } from "../support/real-data-tdx.ts";
import { dropDerivedDays } from "../support/derived-days-schema.ts";
import { readTushareDaily } from "../support/real-data-tushare.ts";
import { dropChangeLog } from "../support/watch.ts";

const ZONE = { timezone: "Asia/Shanghai", barTimestamp: "end" } as const;
/** The one row of the Tushare file that breaks a bar rule. */
const BAD_DATE = "1992-08-03";

let dir: string;
const opened: Database[] = [];
let tushare: (BarInput & { timestamp: string })[];
let minutes: TdxBar[];

beforeAll(async () => {
  tushare = await readTushareDaily();
  minutes = await readTdxBars(TDX_INDEX_1MIN);
});

function open(file = "daily.db"): Database {
  dir ??= fs.mkdtempSync(path.join(os.tmpdir(), "tradelite-daily-"));
  const db = openDatabase({ path: path.join(dir, file), ...ZONE });
  opened.push(db);
  return db;
}

afterEach(() => {
  for (const db of opened.splice(0)) db.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined as never;
});

/** A date's local midnight in Asia/Shanghai, read by the store's own date rule: China kept summer time 1986-1991 (+09:00), which the file's early years cross. */
const midnight = (date: string) => toEpochMs(date, "Asia/Shanghai");

describe("a real daily file beside real minutes", () => {
  test("Tushare's one inconsistent row (1992-08-03, high below open) refuses the daily batch by its row, as a minute batch would; nothing is written", () => {
    const db = open();
    const row = tushare.findIndex((bar) => bar.timestamp === BAD_DATE);
    const error = (() => {
      try {
        db.insertBars("000001.SZ", tushare, { interval: "1d" });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([{ row, field: "high", message: "high 45.6 is below open 46.6" }]);
    expect(db.overview()).toEqual([]);
  });

  test("6,677 Tushare days and 24,000 TDX minutes of one symbol are stored side by side, reopen intact, and a 1d read gives both", () => {
    const days = tushare.filter((bar) => bar.timestamp !== BAD_DATE);
    let db = open();
    expect(db.insertBars("000001", days, { interval: "1d" })).toBe(6_677);
    expect(db.insertBars("000001", minutes)).toBe(24_000);
    db.close();
    db = open();

    const storedMinutes = db.getBars("000001");
    expect(storedMinutes).toHaveLength(24_000);
    expect(storedMinutes[0]).toEqual({ ...minutes[0]!, timestamp: Date.parse("2022-12-16T09:31:00+08:00") });
    const stored = db.getBars("000001", { interval: "1d", source: "stored" });
    expect(stored).toEqual(days.map((bar) => ({ ...bar, timestamp: midnight(bar.timestamp) }) as Bar));
    // A summer-time date of 1991 is stamped at its own midnight, +09:00.
    expect(stored.find((bar) => bar.timestamp === Date.parse("1991-07-01T00:00:00+09:00"))).toBeDefined();
    const resampled = db.getBars("000001", { interval: "1d", source: "minutes" });
    expect(resampled).toHaveLength(100);
    // The day from minutes, computed here: open of 09:31, close of 15:00, extremes, sums.
    const firstDay = minutes.slice(0, 240);
    expect(resampled[0]).toMatchObject({
      timestamp: midnight("2022-12-16"),
      open: firstDay[0]!.open,
      close: firstDay[239]!.close,
      high: Math.max(...firstDay.map((bar) => bar.high)),
      low: Math.min(...firstDay.map((bar) => bar.low)),
    });
    // 1991-2018 stored, 2022-2023 from minutes: no date on both sides, so the merge is the two in turn.
    expect(db.getBars("000001", { interval: "1d" })).toEqual([...stored, ...resampled]);
    expect(db.getBars("000001", { interval: "1d", order: "desc", limit: 3 })).toEqual(resampled.slice(-3).reverse());
    expect(db.getBars("000001", { interval: "1d", start: "2018-08-14", end: "2022-12-16 23:59" })).toEqual([...stored.slice(-2), resampled[0]!]);
    expect([...db.iterateBars("000001", { interval: "1d" })]).toEqual([...stored, ...resampled]);

    expect(db.overview()).toEqual([
      {
        symbol: "000001",
        count: 24_000,
        start: Date.parse("2022-12-16T09:31:00+08:00"),
        end: Date.parse("2023-05-18T15:00:00+08:00"),
        daily: { count: 6_677, start: midnight("1991-04-03"), end: midnight("2018-08-15") },
      },
    ]);
    // Deleting the daily series leaves every minute.
    expect(db.deleteBars("000001", undefined, { interval: "1d" })).toBe(6_677);
    expect(db.getBars("000001")).toEqual(storedMinutes);
    expect(db.overview()[0]!.daily).toBeUndefined();
  });

  test("the data-quality comparison over real minutes lists exactly the dates changed, and nothing for days stored as resampled", async () => {
    const db = open();
    db.insertBars("000001.SH", minutes);
    const days = db.getBars("000001.SH", { interval: "1d", source: "minutes" });
    db.insertBars("000001.SH", days, { interval: "1d" });
    expect(await dailyDifferences(db, "000001.SH")).toEqual([]);
    // The terminal's index volume on 2023-01-05 off by 1%, and the close of 2023-03-01 by one point.
    const volumeDay = days.findIndex((bar) => bar.timestamp === midnight("2023-01-05"));
    const closeDay = days.findIndex((bar) => bar.timestamp === midnight("2023-03-01"));
    db.insertBars("000001.SH", [{ ...days[volumeDay]!, volume: days[volumeDay]!.volume! * 1.01 }, { ...days[closeDay]!, close: days[closeDay]!.close! + 1 }], { interval: "1d" });
    db.deleteBars("000001.SH", { start: "2023-05-18", end: "2023-05-18" }, { interval: "1d" });
    const differences = await dailyDifferences(db, "000001.SH");
    expect(differences.map((d) => [d.date, d.present, d.fields])).toEqual([
      ["2023-01-05", "both", ["volume"]],
      ["2023-03-01", "both", ["close"]],
      ["2023-05-18", "minutes", []],
    ]);
  });
});

/** Removes migration 11's summary table and triggers, leaving a file as migration 8 left it. */
function dropSummary(raw: SqliteDatabase): void {
  dropDerivedDays(raw, false);
  const triggers = raw.query("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'market_data%summary%'").all() as { name: string }[];
  for (const { name } of triggers) raw.run(`DROP TRIGGER "${name}"`);
  raw.run("DROP TABLE market_data_summary");
  raw.run("DROP TABLE market_data_summary_writer");
  dropChangeLog(raw);
  raw.run("DROP TABLE audit_pending");
}

describe("migration 8 on a file written before it", () => {
  test("a schema-7 file (market_data_daily absent) migrates, keeps every row and audit entry, and takes daily bars", () => {
    let db = open("old.db");
    const file = db.path;
    db.insertBars("000001.SH", minutes.slice(0, 2_400));
    db.prefs.set("layout", { chart: "candles" });
    const before = { bars: db.getBars("000001.SH"), audit: db.audit.query() };
    db.close();
    // The schema before migration 8: this one without its table and those of migrations 9 to 11
    // (factors, instruments, the summary), at user_version 7.
    const raw = new SqliteDatabase(file);
    raw.run("DROP TABLE market_data_daily");
    raw.run("DROP TABLE adjustment_factors");
    raw.run("DROP TABLE corporate_actions");
    raw.run("DROP TABLE instrument_status");
    raw.run("DROP TABLE instruments");
    dropSummary(raw);
    raw.run("PRAGMA user_version = 7");
    expect(raw.query("SELECT name FROM sqlite_master WHERE name = 'market_data_daily'").all()).toEqual([]);
    raw.close();

    db = open("old.db");
    expect(db.schemaVersion).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBe(15);
    expect(db.getBars("000001.SH")).toEqual(before.bars);
    expect(db.audit.query()).toEqual(before.audit);
    expect(db.audit.verify()).toEqual({ ok: true, checked: before.audit.length });
    expect(db.prefs.get("layout")?.value).toEqual({ chart: "candles" });
    const table = new SqliteDatabase(file, { readonly: true });
    const ddl = table.query("SELECT sql FROM sqlite_master WHERE name = 'market_data_daily'").get() as { sql: string };
    table.close();
    expect(ddl.sql).toContain("PRIMARY KEY (symbol, timestamp)");
    expect(ddl.sql).toContain("WITHOUT ROWID");
    expect(db.insertBars("000001.SH", [{ timestamp: "2022-12-16", open: 1, high: 2, low: 0.5, close: 1.5, volume: 10, amount: 15 }], { interval: "1d" })).toBe(1);
    expect(db.overview()).toEqual([
      { ...db.overview()[0]!, count: 2_400, daily: { count: 1, start: midnight("2022-12-16"), end: midnight("2022-12-16") } },
    ]);
  });
});
