/**
 * The derived-day rules every backend shares (src/domain/derived-days.ts, derived-reads.ts):
 * which day a minute belongs to, what a batch continues or recomputes, which days a marked hour
 * reaches, and how a read splits into derived buckets and spans resampled on the fly.
 */
import { expect, test } from "bun:test";
import { validateBars } from "../../src/domain/bar.ts";
import { batchDays, dayBar, dayFinder, daysOfHour, type DerivedDay } from "../../src/domain/derived-days.ts";
import { planDerivedRead } from "../../src/domain/derived-reads.ts";
import { sessionBars } from "../support/bars.ts";

const SHANGHAI_END = { timezone: "Asia/Shanghai", barTimestamp: "end" as const };
const HOUR = 3_600_000;
const midnight = Date.parse("2024-01-15T00:00:00+08:00");

test("a day is the local date of a minute; an end-stamped bar at midnight closes the day before", () => {
  const dayOf = dayFinder(SHANGHAI_END);
  expect(dayOf(midnight + 9.5 * HOUR).day).toBe(midnight);
  expect(dayOf(midnight).day).toBe(midnight - 86_400_000);
  expect(dayOf(midnight + 1).day).toBe(midnight);
  const start = dayFinder({ timezone: "Asia/Shanghai", barTimestamp: "start" });
  expect(start(midnight).day).toBe(midnight);
});

test("a marked hour reaches the days of the instants an hour either side (SQL truncates the division)", () => {
  const dayOf = dayFinder(SHANGHAI_END);
  expect(daysOfHour(Math.trunc((midnight + 12 * HOUR) / HOUR), dayOf)).toEqual([midnight]);
  expect(daysOfHour(midnight / HOUR, dayOf).sort()).toEqual([midnight - 86_400_000, midnight]);
});

function batchOf(bars: ReturnType<typeof sessionBars>) {
  return validateBars(bars, { timezone: "Asia/Shanghai" } as never) as unknown as Parameters<typeof batchDays>[0] & { length: number };
}

test("a batch after a day's last minute continues it; one inside or before recomputes it; a new day starts", () => {
  const bars = sessionBars(2, 3, "2024-01-15");
  const dayOf = dayFinder(SHANGHAI_END);
  const first = batchDays(batchOf(bars.slice(0, 100)), 100, dayOf, () => undefined);
  expect(first.recompute).toEqual([]);
  expect(first.store.map((d) => [d.day, d.minutes])).toEqual([[midnight, 100]]);
  const stored = first.store[0]!;
  const appended = batchDays(batchOf(bars.slice(100, 300)), 200, dayOf, (day) => (day === midnight ? structuredClone(stored) : undefined));
  expect(appended.recompute).toEqual([]);
  expect(appended.store.map((d) => [d.day, d.minutes])).toEqual([[midnight, 240], [midnight + 86_400_000, 60]]);
  const whole = batchDays(batchOf(bars.slice(0, 240)), 240, dayOf, () => undefined).store[0]!;
  expect(dayBar(appended.store[0]!)).toEqual(dayBar(whole));
  const inside = batchDays(batchOf(bars.slice(50, 51)), 1, dayOf, () => structuredClone(stored));
  expect(inside).toEqual({ store: [], recompute: [midnight] });
});

test("a read takes whole clean days and resamples an edge day cut by the range and a marked day over their own spans", () => {
  const bars = sessionBars(5, 4, "2024-01-15");
  const dayOf = dayFinder(SHANGHAI_END);
  const days: DerivedDay[] = batchDays(batchOf(bars), bars.length, dayOf, () => undefined).store;
  const range = { start: bars[100]!.timestamp, end: bars[bars.length - 1]!.timestamp };
  const pieces = planDerivedRead({ interval: "1d", range, basis: SHANGHAI_END }, days, new Set([days[3]!.day]));
  expect(pieces.map((piece) => (piece.kind === "bars" ? piece.bars.map((bar) => bar.timestamp) : [piece.range.start, piece.range.end]))).toEqual([
    [bars[100]!.timestamp, dayOf(days[0]!.first).end - 1],
    [days[1]!.day, days[2]!.day],
    [dayOf(days[3]!.first).start, dayOf(days[3]!.first).end - 1],
    [days[4]!.day],
  ]);
  expect(pieces.map((piece) => piece.kind)).toEqual(["resample", "bars", "resample", "bars"]);
});
