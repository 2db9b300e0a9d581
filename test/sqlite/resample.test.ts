/**
 * Resampling in SQL (src/sqlite/bars.ts) against real terminal exports, checked bucket by bucket
 * against an aggregation computed here from the CSV rows, and start-mode alignment on generated
 * minute bars in UTC and across America/New_York's daylight-saving changes.
 */
import type { SyntheticBar } from "../../scripts/synthetic-bars.ts";
import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openDatabase, type Bar, type Database, type DatabaseOptions } from "../../src/mod.ts";
import { readTdxBars, TDX_ETF_5MIN_DESC, TDX_INDEX_1MIN, type TdxBar } from "../support/real-data-tdx.ts";

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const DENORMAL = 5.877471754111438e-39;

let dir: string;
const opened: Database[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tradelite-resample-"));
});

afterEach(() => {
  for (const db of opened.splice(0)) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function open(options: Omit<DatabaseOptions, "path">): Database {
  const db = openDatabase({ path: path.join(dir, "bars.db"), ...options });
  opened.push(db);
  return db;
}

// ---------------------------------------------------------------------------------------------
// The independent side: Shanghai is UTC+8 all year (no DST since 1991), so the CSV's naive
// times become instants by appending +08:00, with no zone machinery involved.

function shanghai(naive: string): number {
  return Date.parse(`${naive.replace(" ", "T")}+08:00`);
}

/** Shanghai midnight of the `YYYY-MM-DD` date of a naive timestamp. */
function shanghaiMidnight(naive: string): number {
  return shanghai(`${naive.slice(0, 10)} 00:00:00`);
}

function minuteOfDay(naive: string): number {
  return Number(naive.slice(11, 13)) * 60 + Number(naive.slice(14, 16));
}

/**
 * The bucket label the terminals print in end mode: buckets count from the session's open
 * (09:30 morning, 13:00 afternoon) and carry their closing minute. For 5, 15 and 30 minutes this
 * coincides with buckets aligned on the clock; for 60 minutes it gives 10:30, 11:30, 14:00, 15:00.
 */
function terminalLabel(naive: string, minutes: number): number {
  const m = minuteOfDay(naive);
  const sessionOpen = m <= 11 * 60 + 30 ? 9 * 60 + 30 : 13 * 60;
  const label = sessionOpen + Math.ceil((m - sessionOpen) / minutes) * minutes;
  return shanghaiMidnight(naive) + label * MINUTE;
}

/** Monday 00:00 Shanghai of the ISO week holding the bar's date. */
function shanghaiMonday(naive: string): number {
  const date = Date.UTC(Number(naive.slice(0, 4)), Number(naive.slice(5, 7)) - 1, Number(naive.slice(8, 10)));
  const daysSinceMonday = (new Date(date).getUTCDay() + 6) % 7;
  return shanghaiMidnight(naive) - daysSinceMonday * DAY;
}

/** Aggregates rows (ascending) into bars keyed by `bucketOf`, the textbook way. */
function aggregate<R extends { open: number; high: number; low: number; close: number; volume: number; amount: number }>(
  rows: readonly R[],
  bucketOf: (row: R) => number,
): Bar[] {
  const bars = new Map<number, Bar & { open: number; high: number; low: number; close: number; volume: number; amount: number }>();
  for (const row of rows) {
    const timestamp = bucketOf(row);
    const bar = bars.get(timestamp);
    if (!bar) {
      bars.set(timestamp, { timestamp, open: row.open, high: row.high, low: row.low, close: row.close, volume: row.volume, amount: row.amount });
      continue;
    }
    bar.high = Math.max(bar.high, row.high);
    bar.low = Math.min(bar.low, row.low);
    bar.close = row.close;
    bar.volume += row.volume;
    bar.amount += row.amount;
  }
  return [...bars.values()].sort((a, b) => a.timestamp - b.timestamp);
}

/** Same buckets, same first/last/extreme prices exactly, sums equal up to float summation order. */
function expectSameBars(actual: Bar[], expected: Bar[]): void {
  expect(actual.map((bar) => bar.timestamp)).toEqual(expected.map((bar) => bar.timestamp));
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    expect({ timestamp: a.timestamp, open: a.open, high: a.high, low: a.low, close: a.close }).toEqual({
      timestamp: e.timestamp, open: e.open, high: e.high, low: e.low, close: e.close,
    });
    expect(a.volume!).toBeCloseTo(e.volume!, 0);
    expect(a.amount!).toBeCloseTo(e.amount!, 0);
  }
}

function countPerDay(bars: Bar[]): Map<number, number> {
  const days = new Map<number, number>();
  for (const bar of bars) {
    // A bar stamped at 15:00 belongs to its own date; shift by 8 h to read the Shanghai date.
    const day = Math.floor((bar.timestamp + 8 * HOUR) / DAY);
    days.set(day, (days.get(day) ?? 0) + 1);
  }
  return days;
}

/** "HH:MM" in Shanghai. */
function shanghaiClock(ms: number): string {
  return new Date(ms + 8 * HOUR).toISOString().slice(11, 16);
}

// ---------------------------------------------------------------------------------------------

describe("the Shanghai Composite 1-minute TDX export (24,000 bars, end-stamped)", () => {
  const SYMBOL = "000001.SH";
  let csv: TdxBar[];
  let csvDates: string[];

  beforeAll(async () => {
    csv = await readTdxBars(TDX_INDEX_1MIN);
    csvDates = [...new Set(csv.map((row) => row.timestamp.slice(0, 10)))];
  });

  function loaded(): Database {
    const db = open({ timezone: "Asia/Shanghai", barTimestamp: "end" });
    expect(db.insertBars(SYMBOL, csv)).toBe(24_000);
    return db;
  }

  test("the file is what its README says: 100 days x 240 ascending bars, 09:31 to 15:00, 100 denormal volumes", () => {
    expect(csv.length).toBe(24_000);
    expect(csvDates.length).toBe(100);
    expect(csv.slice(0, 240).map((row) => row.timestamp.slice(11, 16))).toEqual([
      ...Array.from({ length: 120 }, (_, i) => shanghaiClock(shanghai("2022-12-16 09:31:00") + i * MINUTE)),
      ...Array.from({ length: 120 }, (_, i) => shanghaiClock(shanghai("2022-12-16 13:01:00") + i * MINUTE)),
    ]);
    expect(csv.filter((row) => Object.is(row.volume, DENORMAL)).length).toBe(100);
  });

  test("inserting all 24,000 rows writes 24,000 and the overview spans 2022-12-16 09:31 to 2023-05-18 15:00 +08:00", () => {
    const db = loaded();
    expect(db.overview()).toEqual([
      {
        symbol: SYMBOL,
        count: 24_000,
        start: Date.parse("2022-12-16T09:31:00+08:00"),
        end: Date.parse("2023-05-18T15:00:00+08:00"),
      },
    ]);
  });

  test("every stored bar reads back exactly as the CSV has it, denormal volumes and amounts bit for bit", () => {
    const db = loaded();
    const stored = db.getBars(SYMBOL);
    expect(stored).toEqual(csv.map((row) => ({ ...row, timestamp: shanghai(row.timestamp) })));

    const denormals = stored.filter((bar) => shanghaiClock(bar.timestamp) === "14:59");
    expect(denormals.length).toBe(100);
    const bits = (values: number[]) => Array.from(new BigUint64Array(Float64Array.from(values).buffer));
    const expectedBits = bits(Array(100).fill(DENORMAL));
    expect(bits(denormals.map((bar) => bar.volume!))).toEqual(expectedBits);
    expect(bits(denormals.map((bar) => bar.amount!))).toEqual(expectedBits);
  });

  test("5m gives 48 bars a day, 09:35 ... 11:30 and 13:05 ... 15:00, each matching the CSV's own aggregate", () => {
    const db = loaded();
    const bars = db.getBars(SYMBOL, { interval: "5m" });
    expect(bars.length).toBe(4_800);
    expect([...countPerDay(bars).values()]).toEqual(Array(100).fill(48));
    const firstDay = bars.slice(0, 48).map((bar) => shanghaiClock(bar.timestamp));
    expect(firstDay.slice(0, 2)).toEqual(["09:35", "09:40"]);
    expect(firstDay.slice(22, 26)).toEqual(["11:25", "11:30", "13:05", "13:10"]);
    expect(firstDay[47]).toBe("15:00");
    expectSameBars(bars, aggregate(csv, (row) => terminalLabel(row.timestamp, 5)));
  });

  test("1d gives 100 bars, each stamped 00:00 Shanghai of its trading date and matching the day's aggregate", () => {
    const db = loaded();
    const bars = db.getBars(SYMBOL, { interval: "1d" });
    expect(bars.map((bar) => bar.timestamp)).toEqual(csvDates.map((date) => shanghai(`${date} 00:00:00`)));
    expectSameBars(bars, aggregate(csv, (row) => shanghaiMidnight(row.timestamp)));
  });

  test("15m in end mode gives the terminals' 16 bars a day, 09:45 ... 11:30 and 13:15 ... 15:00", () => {
    const db = loaded();
    const bars = db.getBars(SYMBOL, { interval: "15m" });
    expect([...countPerDay(bars).values()]).toEqual(Array(100).fill(16));
    expectSameBars(bars, aggregate(csv, (row) => terminalLabel(row.timestamp, 15)));
  });

  test("30m in end mode gives the terminals' 8 bars a day: 10:00, 10:30, 11:00, 11:30, 13:30, 14:00, 14:30, 15:00", () => {
    const db = loaded();
    const bars = db.getBars(SYMBOL, { interval: "30m" });
    expect([...countPerDay(bars).values()]).toEqual(Array(100).fill(8));
    expect(bars.slice(0, 8).map((bar) => shanghaiClock(bar.timestamp))).toEqual([
      "10:00", "10:30", "11:00", "11:30", "13:30", "14:00", "14:30", "15:00",
    ]);
    expectSameBars(bars, aggregate(csv, (row) => terminalLabel(row.timestamp, 30)));
  });

  // Buckets follow the local clock, not the session: the hour ending 12:00 holds 11:01-11:30,
  // as pandas' resample("60min", closed="right", label="right") gives. Terminals that count
  // hours from the session open (10:30, 11:30, 14:00, 15:00) need session calendars, which
  // tradelite does not model (README, Resampling).
  test("1h in end mode gives 5 clock-aligned bars a day: 10:00, 11:00, 12:00 (11:01-11:30), 14:00, 15:00", () => {
    const db = loaded();
    const bars = db.getBars(SYMBOL, { interval: "1h" });
    expect(bars.slice(0, 6).map((bar) => shanghaiClock(bar.timestamp))).toEqual([
      "10:00", "11:00", "12:00", "14:00", "15:00", "10:00",
    ]);
    expect([...countPerDay(bars).values()]).toEqual(Array(100).fill(5));
    const clockLabel = (naive: string) => shanghaiMidnight(naive) + Math.ceil(minuteOfDay(naive) / 60) * 60 * MINUTE;
    expectSameBars(bars, aggregate(csv, (row) => clockLabel(row.timestamp)));
  });

  test("1w buckets are stamped Monday 00:00 Shanghai of each bar's week, match the weekly aggregate and sum to the total volume", () => {
    const db = loaded();
    const bars = db.getBars(SYMBOL, { interval: "1w" });
    for (const bar of bars) {
      const local = new Date(bar.timestamp + 8 * HOUR);
      expect([local.getUTCDay(), local.getUTCHours(), local.getUTCMinutes()]).toEqual([1, 0, 0]);
    }
    expectSameBars(bars, aggregate(csv, (row) => shanghaiMonday(row.timestamp)));
    const total = csv.reduce((sum, row) => sum + row.volume, 0);
    expect(bars.reduce((sum, bar) => sum + bar.volume!, 0)).toBeCloseTo(total, 0);
  });
});

describe("the 512010 ETF 5-minute TDX export (23,568 bars, newest first)", () => {
  const SYMBOL = "512010.SH";
  let csv: TdxBar[];

  beforeAll(async () => {
    csv = await readTdxBars(TDX_ETF_5MIN_DESC);
  });

  test("inserted in the file's descending order, all 23,568 rows are stored and read back ascending, value for value", () => {
    expect(csv.length).toBe(23_568);
    expect(shanghai(csv[0]!.timestamp)).toBeGreaterThan(shanghai(csv[1]!.timestamp));
    const db = open({ timezone: "Asia/Shanghai", barTimestamp: "end" });
    expect(db.insertBars(SYMBOL, csv)).toBe(23_568);
    const ascending = csv.map((row) => ({ ...row, timestamp: shanghai(row.timestamp) })).reverse();
    expect(db.getBars(SYMBOL)).toEqual(ascending);
    expect(db.overview()[0]!.count).toBe(23_568);
  });

  test("1d in end mode gives one bar per trading date in the file, each matching that date's aggregate", () => {
    const db = open({ timezone: "Asia/Shanghai", barTimestamp: "end" });
    db.insertBars(SYMBOL, csv);
    const ascending = [...csv].reverse();
    const dates = [...new Set(ascending.map((row) => row.timestamp.slice(0, 10)))];
    const bars = db.getBars(SYMBOL, { interval: "1d" });
    expect(bars.map((bar) => bar.timestamp)).toEqual(dates.map((date) => shanghai(`${date} 00:00:00`)));
    expectSameBars(bars, aggregate(ascending, (row) => shanghaiMidnight(row.timestamp)));
  });
});

// ---------------------------------------------------------------------------------------------
// Start mode on generated minute bars: each bar is stamped at its first instant.

type MinuteBar = SyntheticBar;

/** One bar per UTC minute in [start, end); volume 1, so a bucket's volume counts its minutes. */
function minuteBars(start: number, end: number): MinuteBar[] {
  const bars: MinuteBar[] = [];
  for (let t = start, i = 0; t < end; t += MINUTE, i++) {
    const open = 50 + (i % 400) * 0.125;
    bars.push({ timestamp: t, open, high: open + 2, low: open - 1, close: open + 0.5, volume: 1, amount: open });
  }
  return bars;
}

const newYorkClock = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/New_York",
  hourCycle: "h23",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
});

/** { date: "MM/DD/YYYY", hour, minute } on New York's wall clock. */
function newYork(ms: number): { date: string; hour: number; minute: number } {
  const parts = Object.fromEntries(newYorkClock.formatToParts(ms).map((part) => [part.type, part.value]));
  return { date: `${parts.month}/${parts.day}/${parts.year}`, hour: Number(parts.hour), minute: Number(parts.minute) };
}

describe("start-mode alignment on generated minute bars", () => {
  test("in UTC, 1h buckets start on the hour and 1d buckets at midnight, each holding its 60 or 1,440 minutes", () => {
    const db = open({ timezone: "UTC" });
    const start = Date.UTC(2024, 0, 15);
    // Start mid-hour so the first bucket is partial and alignment cannot come from the data.
    const bars = minuteBars(start + 25 * MINUTE, start + 2 * DAY);
    db.insertBars("BTC/USDT", bars);

    const hours = db.getBars("BTC/USDT", { interval: "1h" });
    expectSameBars(hours, aggregate(bars, (bar) => bar.timestamp - (bar.timestamp % HOUR)));
    expect(hours[0]!.timestamp).toBe(start);
    expect(hours.map((bar) => bar.volume)).toEqual([35, ...Array(47).fill(60)]);

    const days = db.getBars("BTC/USDT", { interval: "1d" });
    expect(days.map((bar) => [bar.timestamp, bar.volume])).toEqual([
      [start, 1_440 - 25],
      [start + DAY, 1_440],
    ]);
    expectSameBars(days, aggregate(bars, (bar) => bar.timestamp - (bar.timestamp % DAY)));
  });

  test("in America/New_York on 2024-03-10 (23 hours), 1h buckets follow the local clock and skip 02:00, and the day is ONE daily bar of 1,380 minutes stamped at local midnight", () => {
    const db = open({ timezone: "America/New_York" });
    const bars = minuteBars(Date.parse("2024-03-09T00:00:00-05:00"), Date.parse("2024-03-12T00:00:00-04:00"));
    db.insertBars("ES=F", bars);

    const hours = db.getBars("ES=F", { interval: "1h" });
    // New York's offsets are whole hours, so a local hour starts on a UTC hour.
    expectSameBars(hours, aggregate(bars, (bar) => bar.timestamp - (bar.timestamp % HOUR)));
    for (const bar of hours) expect(newYork(bar.timestamp).minute).toBe(0);
    const dstDay = hours.filter((bar) => newYork(bar.timestamp).date === "03/10/2024");
    expect(dstDay.map((bar) => newYork(bar.timestamp).hour)).toEqual([0, 1, ...Array.from({ length: 21 }, (_, i) => i + 3)]);
    expect(dstDay.every((bar) => bar.volume === 60)).toBe(true);

    const days = db.getBars("ES=F", { interval: "1d" });
    expect(days.map((bar) => [bar.timestamp, bar.volume])).toEqual([
      [Date.parse("2024-03-09T00:00:00-05:00"), 1_440],
      [Date.parse("2024-03-10T00:00:00-05:00"), 1_380],
      [Date.parse("2024-03-11T00:00:00-04:00"), 1_440],
    ]);
    expectSameBars(days, aggregate(bars, (bar) => Date.parse(`${isoDate(newYork(bar.timestamp).date)}T00:00:00${newYorkOffset(bar.timestamp)}`)));

    // The ISO week of Sunday 2024-03-10 starts Monday 2024-03-04 (EST) and spans the change.
    const weeks = db.getBars("ES=F", { interval: "1w" });
    expect(weeks.map((bar) => [bar.timestamp, bar.volume])).toEqual([
      [Date.parse("2024-03-04T00:00:00-05:00"), 1_440 + 1_380],
      [Date.parse("2024-03-11T00:00:00-04:00"), 1_440],
    ]);
  });

  test("in America/New_York on 2024-11-03 (25 hours), 1h buckets follow the local clock with 01:00 twice, and the day is ONE daily bar of 1,500 minutes stamped at local midnight", () => {
    const db = open({ timezone: "America/New_York" });
    const bars = minuteBars(Date.parse("2024-11-02T00:00:00-04:00"), Date.parse("2024-11-05T00:00:00-05:00"));
    db.insertBars("ES=F", bars);

    const hours = db.getBars("ES=F", { interval: "1h" });
    expectSameBars(hours, aggregate(bars, (bar) => bar.timestamp - (bar.timestamp % HOUR)));
    const dstDay = hours.filter((bar) => newYork(bar.timestamp).date === "11/03/2024");
    expect(dstDay.map((bar) => newYork(bar.timestamp).hour)).toEqual([0, 1, 1, ...Array.from({ length: 22 }, (_, i) => i + 2)]);
    expect(dstDay.every((bar) => bar.volume === 60)).toBe(true);

    const days = db.getBars("ES=F", { interval: "1d" });
    expect(days.map((bar) => [bar.timestamp, bar.volume])).toEqual([
      [Date.parse("2024-11-02T00:00:00-04:00"), 1_440],
      [Date.parse("2024-11-03T00:00:00-04:00"), 1_500],
      [Date.parse("2024-11-04T00:00:00-05:00"), 1_440],
    ]);
    expectSameBars(days, aggregate(bars, (bar) => Date.parse(`${isoDate(newYork(bar.timestamp).date)}T00:00:00${newYorkOffset(bar.timestamp)}`)));
  });
});

/** "MM/DD/YYYY" to "YYYY-MM-DD". */
function isoDate(usDate: string): string {
  const [month, day, year] = usDate.split("/");
  return `${year}-${month}-${day}`;
}

/** The UTC offset New York had at local midnight of the bar's day, as "-05:00" or "-04:00". */
function newYorkOffset(ms: number): string {
  // Midnight is before the 02:00 change, so the offset at midnight is the one the day starts with;
  // find it by trying both and keeping the one whose wall clock reads 00:00 of that date.
  const date = isoDate(newYork(ms).date);
  for (const offset of ["-05:00", "-04:00"]) {
    const midnight = Date.parse(`${date}T00:00:00${offset}`);
    const wall = newYork(midnight);
    if (wall.hour === 0 && wall.minute === 0 && isoDate(wall.date) === date) return offset;
  }
  throw new Error(`no New York midnight on ${date}`);
}
