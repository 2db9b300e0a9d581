import { describe, expect, test } from "bun:test";
import {
  BAR_TIMESTAMPS,
  INTERVAL_SPECS,
  INTERVALS,
  IntervalSchema,
  readQuery,
  readRange,
  readResampling,
  type BarQuery,
  type RangeQuery,
  type TimeRange,
} from "../../src/domain/query.ts";
import { ValidationError } from "../../src/domain/errors.ts";
import { DAY_MS, MAX_TIMESTAMP, MIN_TIMESTAMP } from "../../src/domain/time.ts";
import { issuesOf, randomInt, seededRandom, thrownBy } from "../support/domain-fixtures.ts";

const JAN_15 = Date.UTC(2024, 0, 15);
const JAN_16 = Date.UTC(2024, 0, 16);

describe("readRange", () => {
  test("no range is the whole time line", () => {
    expect(readRange(undefined, "UTC")).toEqual({ start: MIN_TIMESTAMP, end: MAX_TIMESTAMP });
    expect(readRange({}, "UTC")).toEqual({ start: MIN_TIMESTAMP, end: MAX_TIMESTAMP });
  });

  test("an open start defaults to the minimum timestamp", () => {
    expect(readRange({ end: JAN_16 }, "UTC")).toEqual({ start: MIN_TIMESTAMP, end: JAN_16 });
  });

  test("an open end defaults to the maximum timestamp", () => {
    expect(readRange({ start: JAN_15 }, "UTC")).toEqual({ start: JAN_15, end: MAX_TIMESTAMP });
  });

  test("null bounds are open too", () => {
    expect(readRange({ start: null, end: null } as unknown as TimeRange, "UTC")).toEqual({ start: MIN_TIMESTAMP, end: MAX_TIMESTAMP });
  });

  test("bounds may be epoch ms, Dates or ISO strings", () => {
    expect(readRange({ start: new Date(JAN_15), end: "2024-01-16T00:00:00Z" }, "UTC")).toEqual({ start: JAN_15, end: JAN_16 });
  });

  test("naive bounds are read in the zone passed", () => {
    expect(readRange({ start: "2024-01-15", end: "2024-01-15 15:00" }, "Asia/Shanghai")).toEqual({
      start: Date.parse("2024-01-15T00:00:00+08:00"),
      end: Date.parse("2024-01-15T15:00:00+08:00"),
    });
  });

  test("start equal to end is a one-instant range", () => {
    expect(readRange({ start: JAN_15, end: JAN_15 }, "UTC")).toEqual({ start: JAN_15, end: JAN_15 });
  });

  test("start after end is refused on field start", () => {
    const issues = issuesOf(() => readRange({ start: JAN_16, end: JAN_15 }, "UTC"));
    expect(issues).toEqual([{ field: "start", message: expect.stringContaining("after end") }]);
  });

  test("start one millisecond after end is refused", () => {
    expect(issuesOf(() => readRange({ start: JAN_15 + 1, end: JAN_15 }, "UTC"))[0]!.field).toBe("start");
  });

  test("start after end is detected after reading both in the zone", () => {
    // 09:00 Shanghai is 01:00 UTC, which is before 02:00 UTC.
    expect(readRange({ start: "2024-01-15 09:00", end: "2024-01-15T02:00:00Z" }, "Asia/Shanghai").start).toBe(Date.UTC(2024, 0, 15, 1));
    issuesOf(() => readRange({ start: "2024-01-15 09:00", end: "2024-01-15T02:00:00Z" }, "UTC"));
  });

  test("an unreadable bound is refused on its field", () => {
    expect(issuesOf(() => readRange({ start: "yesterday" }, "UTC"))).toEqual([{ field: "start", message: expect.any(String) }]);
    expect(issuesOf(() => readRange({ end: 1.5 }, "UTC"))).toEqual([{ field: "end", message: expect.any(String) }]);
  });

  test("both unreadable bounds are reported together", () => {
    const issues = issuesOf(() => readRange({ start: "2023-02-29", end: "2024-03-10 02:30" }, "America/New_York"));
    expect(issues.map((issue) => issue.field)).toEqual(["start", "end"]);
  });

  test.each([
    ["null", null],
    ["a number", 42],
    ["a string", "2024-01-15"],
    ["an array", [JAN_15, JAN_16]],
  ])("a range that is %s is refused", (_name, range) => {
    issuesOf(() => readRange(range as unknown as TimeRange, "UTC"));
  });
});

describe("readQuery", () => {
  test("defaults: whole range, no limit (-1), ascending", () => {
    expect(readQuery(undefined, "UTC")).toEqual({ start: MIN_TIMESTAMP, end: MAX_TIMESTAMP, limit: -1, order: "asc" });
    expect(readQuery({}, "UTC")).toEqual({ start: MIN_TIMESTAMP, end: MAX_TIMESTAMP, limit: -1, order: "asc" });
  });

  test("a range, limit and order are passed through", () => {
    expect(readQuery({ start: JAN_15, end: JAN_16, limit: 240, order: "desc" }, "UTC")).toEqual({
      start: JAN_15,
      end: JAN_16,
      limit: 240,
      order: "desc",
    });
  });

  test.each([1, 240, 12_000, Number.MAX_SAFE_INTEGER])("limit %p is accepted", (limit) => {
    expect(readQuery({ limit }, "UTC").limit).toBe(limit);
  });

  test.each([
    ["0", 0],
    ["-1", -1],
    ["1.5", 1.5],
    ['the string "10"', "10"],
    ["NaN", NaN],
    ["Infinity", Infinity],
    ["2^53", 2 ** 53],
    ["null", null],
  ])("limit %s is refused", (_name, limit) => {
    const issues = issuesOf(() => readQuery({ limit } as unknown as RangeQuery, "UTC"));
    expect(issues).toEqual([{ field: "limit", message: expect.stringContaining("positive whole number") }]);
  });

  test.each(["asc", "desc"] as const)("order %p is accepted", (order) => {
    expect(readQuery({ order }, "UTC").order).toBe(order);
  });

  test.each(["ASC", "descending", "", "up", 1, null])("order %p is refused", (order) => {
    const issues = issuesOf(() => readQuery({ order } as unknown as RangeQuery, "UTC"));
    expect(issues).toEqual([{ field: "order", message: expect.any(String) }]);
  });

  test("a bad limit and a bad order are reported together", () => {
    const issues = issuesOf(() => readQuery({ limit: 0, order: "up" } as unknown as RangeQuery, "UTC"));
    expect(issues.map((issue) => issue.field)).toEqual(["limit", "order"]);
  });

  test("the range is checked too", () => {
    expect(issuesOf(() => readQuery({ start: JAN_16, end: JAN_15, limit: 10 }, "UTC"))[0]!.field).toBe("start");
  });

  test("naive bounds are read in the zone passed", () => {
    expect(readQuery({ start: "2024-01-15 09:30" }, "Asia/Shanghai").start).toBe(Date.parse("2024-01-15T09:30:00+08:00"));
  });
});

describe("readResampling", () => {
  test("no query: no interval and the default placement", () => {
    expect(readResampling(undefined, "start")).toEqual({ interval: undefined, barTimestamp: "start", align: "clock", fill: "none" });
    expect(readResampling({}, "end")).toEqual({ interval: undefined, barTimestamp: "end", align: "clock", fill: "none" });
  });

  test.each([...INTERVALS])("interval %p is accepted", (interval) => {
    expect(readResampling({ interval }, "start").interval).toBe(interval);
  });

  test("the intervals are 1m, 5m, 15m, 30m, 1h, 2h, 1d, 1w and 1M", () => {
    expect([...INTERVALS]).toEqual(["1m", "5m", "15m", "30m", "1h", "2h", "1d", "1w", "1M"]);
    expect(IntervalSchema.safeParse("2h").success).toBe(true);
    expect(IntervalSchema.safeParse("3h").success).toBe(false);
  });

  test("align is clock or session; anything else is refused", () => {
    expect(readResampling({ interval: "1h", align: "session" }, "end").align).toBe("session");
    const issues = issuesOf(() => readResampling({ align: "exchange" } as unknown as BarQuery, "start"));
    expect(issues).toEqual([{ field: "align", message: expect.stringContaining("session") }]);
  });

  test.each(["2m", "1y", "60m", "1H", "1h ", "day", "", 60_000, null])("interval %p is refused", (interval) => {
    const issues = issuesOf(() => readResampling({ interval } as unknown as BarQuery, "start"));
    expect(issues).toEqual([{ field: "interval", message: expect.stringContaining("1m, 5m") }]);
  });

  test("the query's barTimestamp overrides the default placement", () => {
    expect(readResampling({ interval: "5m", barTimestamp: "end" }, "start")).toEqual({ interval: "5m", barTimestamp: "end", align: "clock", fill: "none" });
    expect(readResampling({ barTimestamp: "start" }, "end").barTimestamp).toBe("start");
  });

  test.each(["middle", "END", "", 0])("barTimestamp %p is refused", (barTimestamp) => {
    const issues = issuesOf(() => readResampling({ barTimestamp } as unknown as BarQuery, "start"));
    expect(issues).toEqual([{ field: "barTimestamp", message: expect.any(String) }]);
  });

  test("a bad default placement is refused as well", () => {
    expect(BAR_TIMESTAMPS).toEqual(["start", "end"]);
    issuesOf(() => readResampling({}, "middle" as never));
  });

  test("a bad interval and a bad barTimestamp are reported together", () => {
    const error = thrownBy(() => readResampling({ interval: "2m", barTimestamp: "middle" } as unknown as BarQuery, "start"), ValidationError);
    expect(error.issues.map((issue) => issue.field)).toEqual(["interval", "barTimestamp"]);
  });
});

describe("INTERVAL_SPECS", () => {
  test("every clock interval but the month has a bucket size matching its name", () => {
    const clock = INTERVALS.filter((interval) => interval !== "1M");
    expect(Object.keys(INTERVAL_SPECS)).toEqual(clock);
    expect(Object.fromEntries(clock.map((interval) => [interval, INTERVAL_SPECS[interval].ms]))).toEqual({
      "1m": 60_000,
      "5m": 300_000,
      "15m": 900_000,
      "30m": 1_800_000,
      "1h": 3_600_000,
      "2h": 7_200_000,
      "1d": DAY_MS,
      "1w": 7 * DAY_MS,
    });
    expect(clock.filter((interval) => INTERVAL_SPECS[interval].calendar)).toEqual(["1d", "1w"]);
  });

  test("weekly buckets, floored after taking off the phase and given it back, start on a Monday", () => {
    const { ms, phase } = INTERVAL_SPECS["1w"];
    const random = seededRandom(19700105);
    for (let i = 0; i < 500; i++) {
      const day = randomInt(random, -20_000, 30_000) * DAY_MS;
      // As src/sqlite/bars.ts buckets: x = local - phase, floored to the size, plus the phase.
      const bucketStart = Math.floor((day - phase) / ms) * ms + phase;
      expect(new Date(bucketStart).getUTCDay()).toBe(1);
      expect(day - bucketStart).toBeGreaterThanOrEqual(0);
      expect(day - bucketStart).toBeLessThan(ms);
    }
  });
});
