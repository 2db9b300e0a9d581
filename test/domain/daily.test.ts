/**
 * src/domain/daily.ts: which series an options argument names, the midnight rule, the merge of a
 * 1d read's two sides, the comparison and its tolerance, and the overview's shape.
 */
import { describe, expect, test } from "bun:test";
import {
  compareDaily,
  dailyStampIssues,
  differingFields,
  mergeDaily,
  mergeOverviews,
  readSeriesOptions,
} from "../../src/domain/daily.ts";
import { inQueryOrder } from "../../src/domain/query.ts";
import type { Bar } from "../../src/mod.ts";
import { readResampling } from "../../src/domain/query.ts";
import { issuesOf } from "../support/domain-fixtures.ts";

const DAY = 86_400_000;
const bar = (timestamp: number, close = 10, volume: number | null = 1_000, amount: number | null = 10_000): Bar => ({
  timestamp,
  open: 10,
  high: 11,
  low: 9,
  close,
  volume,
  amount,
});

describe("which stored series", () => {
  test("omitted or {} is the bars as written; { interval: '1d' } the daily series; anything else names the option", () => {
    expect(readSeriesOptions(undefined)).toBe("minutes");
    expect(readSeriesOptions({})).toBe("minutes");
    expect(readSeriesOptions({ interval: "1d" })).toBe("daily");
    for (const interval of ["1m", "1w", "1D", 1]) expect(issuesOf(() => readSeriesOptions({ interval })).map((issue) => issue.field)).toEqual(["interval"]);
    expect(issuesOf(() => readSeriesOptions({ intervall: "1d" })).map((issue) => issue.field)).toEqual(["intervall"]);
    expect(issuesOf(() => readSeriesOptions("1d"))).toHaveLength(1);
  });

  test("source is read with interval 1d only, and only as stored or minutes", () => {
    expect(readResampling({ interval: "1d", source: "stored" }, "start").source).toBe("stored");
    expect(readResampling({ interval: "1d" }, "start").source).toBeUndefined();
    expect(issuesOf(() => readResampling({ interval: "1h", source: "minutes" }, "start")).map((issue) => issue.field)).toEqual(["source"]);
    expect(issuesOf(() => readResampling({ source: "stored" }, "start")).map((issue) => issue.field)).toEqual(["source"]);
    expect(issuesOf(() => readResampling({ interval: "1d", source: "daily" as never }, "start")).map((issue) => issue.field)).toEqual(["source"]);
  });
});

describe("the midnight rule", () => {
  test("a daily stamp is its date's local midnight in the store's zone, summer time included", () => {
    const shanghai = Date.parse("2024-01-15T00:00:00+08:00");
    expect(dailyStampIssues([shanghai], "Asia/Shanghai")).toEqual([]);
    expect(dailyStampIssues([Date.parse("1991-07-01T00:00:00+09:00")], "Asia/Shanghai")).toEqual([]);
    const issues = dailyStampIssues([shanghai, shanghai + 15 * 3_600_000, Date.UTC(2024, 0, 15)], "Asia/Shanghai");
    expect(issues.map((issue) => [issue.row, issue.field])).toEqual([[1, "timestamp"], [2, "timestamp"]]);
    expect(issues[0]!.message).toContain(`2024-01-15 is ${shanghai}`);
    expect(dailyStampIssues([Date.UTC(2024, 0, 15)], "UTC")).toEqual([]);
  });
});

describe("the 1d merge", () => {
  test("stored days win on equal timestamps; the rest interleave by timestamp", () => {
    const stored = [bar(1 * DAY, 1), bar(3 * DAY, 3), bar(6 * DAY, 6)];
    const minutes = [bar(0, 0), bar(1 * DAY, -1), bar(2 * DAY, 2), bar(6 * DAY, -6), bar(7 * DAY, 7)];
    expect([...mergeDaily(stored, minutes)].map((b) => b.close)).toEqual([0, 1, 2, 3, 6, 7]);
    expect([...mergeDaily([], minutes)]).toEqual(minutes);
    expect([...mergeDaily(stored, [])]).toEqual(stored);
  });

  test("order and limit apply to the merged days", () => {
    const days = [0, 1, 2, 3].map((i) => bar(i * DAY, i));
    const query = { start: 0, end: 10 * DAY, limit: 2, order: "desc" as const };
    expect([...inQueryOrder(days, query)].map((b) => b.close)).toEqual([3, 2]);
    expect([...inQueryOrder(days, { ...query, order: "asc" })].map((b) => b.close)).toEqual([0, 1]);
    expect([...inQueryOrder(days, { ...query, limit: -1, order: "asc" })]).toEqual(days);
  });
});

describe("the comparison", () => {
  test("prices exactly; volume and amount within the relative tolerance; NULL only equals NULL", () => {
    const a = bar(0);
    expect(differingFields(a, { ...a })).toEqual([]);
    expect(differingFields(a, { ...a, close: 10.000000001 })).toEqual(["close"]);
    expect(differingFields(a, { ...a, volume: 1_000.9 })).toEqual([]); // 0.09%
    expect(differingFields(a, { ...a, volume: 1_001.1 })).toEqual(["volume"]); // 0.11%
    expect(differingFields(a, { ...a, amount: 10_011 }, 0.002)).toEqual([]);
    expect(differingFields(a, { ...a, amount: null })).toEqual(["amount"]);
    expect(differingFields({ ...a, amount: null }, { ...a, amount: null })).toEqual([]);
  });

  test("lists unequal dates and dates on one side, ascending, with both bars", () => {
    const stored = [bar(0), bar(DAY, 11), bar(3 * DAY)];
    const minutes = [bar(0), bar(DAY), bar(2 * DAY)];
    expect(compareDaily(stored, minutes, "UTC").map((d) => [d.date, d.present, d.fields, d.stored?.close ?? null, d.minutes?.close ?? null])).toEqual([
      ["1970-01-02", "both", ["close"], 11, 10],
      ["1970-01-03", "minutes", [], null, 10],
      ["1970-01-04", "stored", [], 10, null],
    ]);
  });
});

describe("the overview's shape", () => {
  test("minute fields as before, daily where a symbol has days, a daily-only symbol with count 0 and null bounds, in byte order", () => {
    const minutes = [{ symbol: "B", count: 2, start: 5, end: 6 }, { symbol: "D", count: 1, start: 7, end: 7 }];
    const daily = [{ symbol: "A", count: 3, start: 0, end: 2 * DAY }, { symbol: "B", count: 1, start: 0, end: 0 }];
    expect(mergeOverviews(minutes, daily)).toEqual([
      { symbol: "A", count: 0, start: null, end: null, daily: { count: 3, start: 0, end: 2 * DAY } },
      { symbol: "B", count: 2, start: 5, end: 6, daily: { count: 1, start: 0, end: 0 } },
      { symbol: "D", count: 1, start: 7, end: 7 },
    ]);
    // U+FF21 (fullwidth A) sorts before an astral character in UTF-8, as SQLite and COLLATE "C" sort.
    expect(mergeOverviews([], [{ symbol: "\u{20000}", count: 1, start: 0, end: 0 }, { symbol: "\uFF21", count: 1, start: 0, end: 0 }]).map((row) => row.symbol)).toEqual(["\uFF21", "\u{20000}"]);
  });
});
