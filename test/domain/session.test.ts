/**
 * Session-aligned resampling (src/domain/session.ts) on the real Shanghai Composite 1-minute
 * export, checked against buckets computed here from the file's own wall-clock times, and on
 * small hand-made days for the edges: auction and lunch bars, closed days, weeks and months.
 */
import { describe, expect, test } from "bun:test";
import { Calendar, parseSessions, type CalendarData } from "../../src/domain/calendar.ts";
import { ValidationError } from "../../src/domain/errors.ts";
import type { Interval } from "../../src/domain/query.ts";
import { completenessCounter, resampleStored, resamplingOf, sessionResampler } from "../../src/domain/session.ts";
import type { Bar } from "../../src/mod.ts";
import { readTdxBars, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";

const SHANGHAI = "Asia/Shanghai";
const A_SHARE_SESSIONS = parseSessions("09:30-11:30 13:00-15:00");

/** A calendar of the given days with A-share sessions. */
function aShareCalendar(days: string[]): Calendar {
  const data: CalendarData = { name: "TEST", timezone: SHANGHAI, days, rules: [{ from: "1990-12-19", sessions: A_SHARE_SESSIONS }] };
  return new Calendar(data);
}

/** Shanghai has been UTC+8 all year since 1991: naive times become instants with no zone code. */
const at = (naive: string) => Date.parse(`${naive.replace(" ", "T")}+08:00`);
const wall = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 16).replace("T", " ");

function resample(bars: readonly Bar[], calendar: Calendar | null, interval: Interval, placement: "start" | "end" = "end"): Bar[] {
  return [...resampleStored(bars, sessionResampler(calendar, interval, placement, SHANGHAI))];
}

function bar(naive: string, close: number, volume = 100): Bar {
  return { timestamp: at(naive), open: close, high: close + 1, low: close - 1, close, volume, amount: volume * close };
}

const realBars = (await readTdxBars(TDX_INDEX_1MIN)).map((row) => ({ ...row, timestamp: at(row.timestamp) }));
const realDays = [...new Set(realBars.map((b) => wall(b.timestamp).slice(0, 10)))];
const realCalendar = aShareCalendar(realDays);

/**
 * The independent computation: each end-stamped minute's slot from its wall-clock minute alone,
 * counting from 09:30 and 13:00 in steps of `minutes`, cut at 11:30 and 15:00.
 */
function expectedSessionBars(minutes: number): { timestamp: number; open: number; close: number; high: number; low: number; volume: number; count: number }[] {
  const buckets = new Map<number, { timestamp: number; open: number; close: number; high: number; low: number; volume: number; count: number }>();
  for (const b of realBars) {
    const [date, clock] = wall(b.timestamp).split(" ") as [string, string];
    const minute = Number(clock.slice(0, 2)) * 60 + Number(clock.slice(3, 5));
    const [open, close] = minute <= 690 ? [570, 690] : [780, 900];
    const end = Math.min(open + Math.ceil((minute - open) / minutes) * minutes, close);
    const stamp = at(`${date} ${String(Math.floor(end / 60)).padStart(2, "0")}:${String(end % 60).padStart(2, "0")}`);
    const bucket = buckets.get(stamp);
    if (!bucket) buckets.set(stamp, { timestamp: stamp, open: b.open, close: b.close, high: b.high, low: b.low, volume: b.volume, count: 1 });
    else {
      bucket.close = b.close;
      bucket.high = Math.max(bucket.high, b.high);
      bucket.low = Math.min(bucket.low, b.low);
      bucket.volume += b.volume;
      bucket.count++;
    }
  }
  return [...buckets.values()];
}

describe("session-aligned intraday buckets on the real Shanghai Composite 1-minute file", () => {
  test("the file is what the test expects: 100 trading days of 240 end-stamped minutes", () => {
    expect(realDays).toHaveLength(100);
    expect(realBars).toHaveLength(24_000);
  });

  test("60m bars are 4 a day at 10:30, 11:30, 14:00 and 15:00, each the aggregate of its 60 minutes", () => {
    const bars = resample(realBars, realCalendar, "1h");
    expect(bars).toHaveLength(400);
    expect(new Set(bars.map((b) => wall(b.timestamp).slice(11)))).toEqual(new Set(["10:30", "11:30", "14:00", "15:00"]));
    const expected = expectedSessionBars(60);
    expect(expected.every((b) => b.count === 60)).toBe(true);
    expect(bars.map((b) => b.timestamp)).toEqual(expected.map((b) => b.timestamp));
    bars.forEach((b, i) => {
      const e = expected[i]!;
      expect([b.open, b.high, b.low, b.close]).toEqual([e.open, e.high, e.low, e.close]);
      // The plain sum here and the compensated one may differ in the last bits only.
      expect(b.volume! / e.volume).toBeCloseTo(1, 12);
    });
  });

  test.each([
    ["30m", 30, 8],
    ["2h", 120, 2],
    ["15m", 15, 16],
    ["5m", 5, 48],
  ] as const)("%s bars: %i-minute buckets from each session's open, %i a day", (interval, minutes, perDay) => {
    const bars = resample(realBars, realCalendar, interval);
    expect(bars).toHaveLength(100 * perDay);
    expect(bars.map((b) => b.timestamp)).toEqual(expectedSessionBars(minutes).map((b) => b.timestamp));
  });

  test("start-stamped 60m bars carry their bucket's open: 09:30, 10:30, 13:00, 14:00", () => {
    const startStamped = realBars.map((b) => ({ ...b, timestamp: b.timestamp - 60_000 }));
    const bars = resample(startStamped, realCalendar, "1h", "start");
    expect(bars).toHaveLength(400);
    expect(bars.slice(0, 4).map((b) => wall(b.timestamp).slice(11))).toEqual(["09:30", "10:30", "13:00", "14:00"]);
    // The same buckets as end stamping, one hour earlier in name only.
    const endBars = resample(realBars, realCalendar, "1h");
    expect(bars.map((b) => b.volume)).toEqual(endBars.map((b) => b.volume));
  });

  test("a 1d bar is the trading date, stamped at its local midnight, and its four 60m bars add up to it", () => {
    const days = resample(realBars, realCalendar, "1d");
    expect(days.map((b) => wall(b.timestamp))).toEqual(realDays.map((d) => `${d} 00:00`));
    const hours = resample(realBars, realCalendar, "1h");
    days.forEach((day, i) => {
      const four = hours.slice(i * 4, i * 4 + 4);
      expect(day.open).toBe(four[0]!.open);
      expect(day.close).toBe(four[3]!.close);
      expect(day.high).toBe(Math.max(...four.map((b) => b.high!)));
      expect(day.volume! / four.reduce((sum, b) => sum + b.volume!, 0)).toBeCloseTo(1, 12);
    });
  });
});

describe("edges", () => {
  const calendar = aShareCalendar(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09", "2024-02-01", "2024-05-06"]);

  test("an opening-auction bar stamped 09:30 and a lunch-time print are folded into the nearest bucket of their day", () => {
    const bars = [bar("2024-01-02 09:30", 10), bar("2024-01-02 09:31", 11), bar("2024-01-02 11:30", 12), bar("2024-01-02 12:10", 13), bar("2024-01-02 13:01", 14), bar("2024-01-02 15:05", 15)];
    const hours = resample(bars, calendar, "1h");
    expect(hours.map((b) => [wall(b.timestamp).slice(11), b.open, b.close, b.volume])).toEqual([
      ["10:30", 10, 11, 200],
      ["11:30", 12, 13, 200],
      ["14:00", 14, 14, 100],
      ["15:00", 15, 15, 100],
    ]);
    const [day] = resample(bars, calendar, "1d");
    expect(day!.volume).toBe(600);
  });

  test("bars on a day the calendar says is closed keep clock buckets from that midnight", () => {
    const bars = [bar("2024-01-06 10:00", 1), bar("2024-01-06 10:40", 2)];
    expect(resample(bars, calendar, "1h").map((b) => wall(b.timestamp))).toEqual(["2024-01-06 10:00", "2024-01-06 11:00"]);
  });

  test("a week is stamped with its first trading day; a month with its first trading day", () => {
    const bars = [bar("2024-01-03 10:00", 1), bar("2024-01-09 10:00", 2), bar("2024-02-01 10:00", 3), bar("2024-05-06 10:00", 4)];
    // The week of 2024-01-01 (a holiday Monday) starts trading on Tuesday the 2nd.
    // This calendar opens on no day of the week of 29 January before Thursday 1 February.
    expect(resample(bars, calendar, "1w").map((b) => wall(b.timestamp).slice(0, 10))).toEqual(["2024-01-02", "2024-01-08", "2024-02-01", "2024-05-06"]);
    expect(resample(bars, calendar, "1M").map((b) => [wall(b.timestamp).slice(0, 10), b.volume])).toEqual([
      ["2024-01-02", 200],
      ["2024-02-01", 100],
      ["2024-05-06", 100],
    ]);
    // On the clock a month is the local calendar month, stamped on its first day.
    expect(resample(bars, null, "1M").map((b) => wall(b.timestamp).slice(0, 10))).toEqual(["2024-01-01", "2024-02-01", "2024-05-01"]);
  });

  test("sums are SQLite's compensated sum: NULLs skipped, all-NULL is NULL", () => {
    const bars: Bar[] = [
      { ...bar("2024-01-02 09:31", 1), volume: 1e16, amount: null },
      { ...bar("2024-01-02 09:32", 1), volume: 1, amount: null },
      { ...bar("2024-01-02 09:33", 1), volume: -1e16, amount: null },
    ];
    const [hour] = resample(bars, calendar, "1h");
    expect(hour!.volume).toBe(1);
    expect(hour!.amount).toBeNull();
  });

  test("an align: session read of a symbol without a calendar names the fix", () => {
    const error = (() => {
      try {
        resamplingOf("600519.SH", "1h", "end", "session", () => null);
      } catch (e) {
        return e;
      }
    })() as ValidationError;
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.issues[0]).toEqual({ field: "align", message: expect.stringContaining("tradelite settings set calendar") });
    expect(resamplingOf("X", "1M", "end", "clock", undefined)).toEqual({ interval: "1M", placement: "end", calendar: null });
    expect(resamplingOf("X", "1h", "end", "clock", undefined)).toEqual({ interval: "1h", placement: "end" });
  });
});

describe("completeness", () => {
  const count = (calendar: Calendar, timestamps: number[], range: { start?: number; end?: number } = {}, placement: "start" | "end" = "end") => {
    const counter = completenessCounter(calendar, placement, range);
    for (const t of timestamps) counter.push(t);
    return counter.finish();
  };

  test("the real file is complete: 100 days of 240 bars, nothing outside, no closed day", () => {
    const report = count(realCalendar, realBars.map((b) => b.timestamp));
    expect(report.days).toHaveLength(100);
    expect(report.days.every((d) => d.expected === 240 && d.present === 240 && d.missing.length === 0)).toBe(true);
    expect(report.outside).toBe(0);
    expect(report.nonTradingDays).toEqual([]);
  });

  test("finds exactly the minutes deleted, collapsed into ranges, and a whole day gone", () => {
    const deleted = new Set<number>();
    const del = (from: string, to: string) => {
      for (const b of realBars) if (b.timestamp >= at(from) && b.timestamp <= at(to)) deleted.add(b.timestamp);
    };
    del("2023-01-05 09:31", "2023-01-05 09:35");
    del("2023-01-05 11:30", "2023-01-05 11:30");
    del("2023-01-05 13:01", "2023-01-05 13:01");
    del("2023-02-01 09:31", "2023-02-01 15:00");
    const kept = realBars.map((b) => b.timestamp).filter((t) => !deleted.has(t));
    const report = count(realCalendar, kept);
    const partial = report.days.filter((d) => d.present < d.expected);
    expect(partial.map((d) => [d.date, d.present])).toEqual([["2023-01-05", 233], ["2023-02-01", 0]]);
    expect(partial[0]!.missing.map((r) => [wall(r.start), wall(r.end)])).toEqual([
      ["2023-01-05 09:31", "2023-01-05 09:35"],
      ["2023-01-05 11:30", "2023-01-05 11:30"],
      ["2023-01-05 13:01", "2023-01-05 13:01"],
    ]);
    expect(partial[1]!.missing.map((r) => [wall(r.start), wall(r.end)])).toEqual([
      ["2023-02-01 09:31", "2023-02-01 11:30"],
      ["2023-02-01 13:01", "2023-02-01 15:00"],
    ]);
    const missing = report.days.reduce((n, d) => n + d.missing.reduce((m, r) => m + (r.end - r.start) / 60_000 + 1, 0), 0);
    expect(missing).toBe(deleted.size);
  });

  test("bars off the session grid count as outside; bars on a closed date are listed", () => {
    const calendar = aShareCalendar(["2024-01-02", "2024-01-03", "2024-01-04"]);
    const report = count(calendar, [at("2024-01-02 09:30"), at("2024-01-02 09:31"), at("2024-01-02 12:00"), at("2024-01-06 10:00"), at("2024-01-06 10:01")]);
    expect(report.outside).toBe(2);
    expect(report.nonTradingDays).toEqual(["2024-01-06"]);
    expect(report.days.map((d) => [d.date, d.present, d.expected])).toEqual([["2024-01-02", 1, 240], ["2024-01-03", 0, 240], ["2024-01-04", 0, 240]]);
  });

  test("start-stamped bars are expected at 09:30 ... 14:59; an explicit range reports its trading days even without bars", () => {
    const calendar = aShareCalendar(["2024-01-02", "2024-01-03"]);
    const report = count(calendar, [at("2024-01-03 09:30"), at("2024-01-03 14:59"), at("2024-01-03 15:00")], { start: at("2024-01-01 00:00"), end: at("2024-01-03 23:59") }, "start");
    expect(report.days.map((d) => [d.date, d.present])).toEqual([["2024-01-02", 0], ["2024-01-03", 2]]);
    expect(report.outside).toBe(1);
    expect(report.days[1]!.missing[0]).toEqual({ start: at("2024-01-03 09:31"), end: at("2024-01-03 11:29") });
  });
});
