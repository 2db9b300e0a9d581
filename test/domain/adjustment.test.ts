import { describe, expect, test } from "bun:test";
import { adjustBars } from "../../src/domain/adjusted-bars.ts";
import { factorAt, validateFactors, type AdjustmentFactor } from "../../src/domain/adjustment.ts";
import type { Bar } from "../../src/domain/bar.ts";
import { roundHalfUp } from "../../src/domain/corporate-action.ts";
import { issuesOf } from "../support/domain-fixtures.ts";
import { PRICE_FIELDS, readTushareFactors, SHANGHAI } from "../support/real-data-adjustments.ts";

const days = await readTushareFactors();

/** Tushare publishes each day's factor before the open (09:15-09:20, its adj_factor page). */
const tushareFactors: AdjustmentFactor[] = validateFactors(
  days.map((day) => ({ date: day.date, factor: day.factor, knownAt: `${day.date} 09:20`, source: "tushare" })),
  SHANGHAI,
);
const rawBars = days.map((day) => day.raw);

/** The vendor's printed prices that `adjusted`, rounded as the vendor rounds, fails to reproduce. */
function mismatches(adjusted: readonly Bar[], vendor: (index: number) => Record<(typeof PRICE_FIELDS)[number], number>, round: (price: number) => number): string[] {
  const wrong: string[] = [];
  adjusted.forEach((bar, index) => {
    for (const field of PRICE_FIELDS) {
      const ours = round(bar[field]!);
      if (ours !== vendor(index)[field]) wrong.push(`${days[index]!.date} ${field}: ${ours} vs ${vendor(index)[field]}`);
    }
  });
  return wrong;
}

describe("Tushare's adjusted prices, 600036, 2023-09-25..2025-10-23 (500 days, 2,000 prices a mode)", () => {
  // Tushare prints both modes to 5 decimals, rounding the decimal product half up: 207.489925 is
  // 207.48993 in its file, where toFixed(5) on the binary double gives 207.48992 (162 of the
  // 2,000 hfq prices differ that way).
  const tushareRounding = (price: number) => roundHalfUp(price, 5);

  test("hfq is raw x the factor in force, every price to the vendor's digit", () => {
    const hfq = adjustBars(rawBars, tushareFactors, { mode: "hfq", timeZone: SHANGHAI });
    expect(mismatches(hfq, (index) => days[index]!.hfq, tushareRounding)).toEqual([]);
  });

  test("qfq is hfq over the latest factor (6.3201), every price to the vendor's digit, the latest raw to the bit", () => {
    const qfq = adjustBars(rawBars, tushareFactors, { mode: "qfq", timeZone: SHANGHAI });
    expect(mismatches(qfq, (index) => days[index]!.qfq, tushareRounding)).toEqual([]);
    // After the last ex-date (2025-07-11) the ratio is 6.3201 / 6.3201, exactly 1.
    const last = qfq.length - 1;
    expect(qfq[last]).toEqual(rawBars[last]!);
  });

  test("qfq as of a day anchors on that day's factor: raw prices that day, earlier ones scaled", () => {
    const asOf = "2024-12-31 15:00";
    const qfq = adjustBars(rawBars, tushareFactors, { mode: "qfq", timeZone: SHANGHAI, asOf });
    const dec31 = days.findIndex((day) => day.date === "2024-12-31");
    expect(qfq[dec31]).toEqual(rawBars[dec31]!);
    const before = days.findIndex((day) => day.date === "2024-07-10");
    expect(qfq[before]!.close).toBeCloseTo((rawBars[before]!.close! * 5.714) / 6.0581, 12);
    // Days after asOf adjust with factors known by then only: 2025's bars have factors known
    // later, so they keep 6.0581 and come out raw too.
    expect(qfq.at(-1)).toEqual(rawBars.at(-1)!);
  });

  test("the factor in force is the latest row at or before a date, 1 before all of them", () => {
    expect(factorAt(tushareFactors, "2024-07-10")).toBe(5.714);
    expect(factorAt(tushareFactors, "2024-07-11")).toBe(6.0581);
    expect(factorAt(tushareFactors, "2024-07-13")).toBe(6.0581); // a Saturday: Friday's row
    expect(factorAt(tushareFactors, "2030-01-01")).toBe(6.3201);
    expect(factorAt(tushareFactors, "2023-09-24")).toBe(1);
    // A compact date is read as the date it is, not compared as text ("20240711" > "2024-...").
    expect(factorAt(tushareFactors, "20240710")).toBe(5.714);
    expect(issuesOf(() => factorAt(tushareFactors, "2024-7-10"))).toEqual([{ field: "date", message: expect.stringContaining("expected a date") }]);
  });
});

describe("point in time", () => {
  // A provisional factor for 2024-07-11 published at 09:20, corrected at 16:00 the same day.
  const provisional = Date.parse("2024-07-11T09:20:00+08:00");
  const corrected = Date.parse("2024-07-11T16:00:00+08:00");
  const factors = validateFactors([
    { date: "2024-07-11", factor: 1.06, knownAt: provisional, source: "vendor" },
    { date: "20240711", factor: 1.0602, knownAt: corrected, source: "vendor" },
  ], SHANGHAI);
  const bar: Bar = { timestamp: Date.parse("2024-07-11T10:00:00+08:00"), open: 10, high: 10, low: 10, close: 10, volume: 1, amount: 10 };
  const earlier: Bar = { ...bar, timestamp: Date.parse("2024-07-10T10:00:00+08:00") };

  test("a read as of a time between the two sees the provisional factor, after both the correction", () => {
    expect(factorAt(factors, "2024-07-11", provisional + 1)).toBe(1.06);
    expect(factorAt(factors, "2024-07-11", corrected)).toBe(1.0602);
    expect(adjustBars([bar], factors, { mode: "hfq", timeZone: SHANGHAI, asOf: "2024-07-11 12:00" })[0]!.close).toBe(10 * 1.06);
    expect(adjustBars([bar], factors, { mode: "hfq", timeZone: SHANGHAI })[0]!.close).toBe(10 * 1.0602);
    const qfq = adjustBars([earlier, bar], factors, { mode: "qfq", timeZone: SHANGHAI, asOf: new Date(provisional) });
    expect(qfq.map((b) => b.close)).toEqual([10 / 1.06, 10]);
  });

  test("an asOf before any factor became known is an error naming the option", () => {
    const issues = issuesOf(() => adjustBars([bar], factors, { mode: "qfq", timeZone: SHANGHAI, asOf: provisional - 1 }));
    expect(issues).toEqual([{ field: "asOf", message: expect.stringContaining("before any factor became known") }]);
    expect(issuesOf(() => factorAt(factors, "2024-07-11", 0))[0]!.field).toBe("asOf");
  });
});

describe("bad input", () => {
  test("each bad factor row is named with its field", () => {
    const issues = issuesOf(() => validateFactors([
      { date: "2024-07-11", factor: 0, knownAt: 0, source: "x" },
      { date: "2024-07-12", factor: -1.5, knownAt: 0, source: "x" },
      { date: "2024-07-15", factor: Number.NaN, knownAt: 0, source: "x" },
      { date: "2024-07-16", factor: Infinity, knownAt: 0, source: "x" },
      { date: "2023-02-29", factor: 1, knownAt: 0, source: "x" },
      { date: "2024-07-17", factor: 1, knownAt: "yesterday", source: "x" },
      { date: "2024-07-18", factor: 1, knownAt: 0, source: "" },
      { date: "2024-07-19", factor: 1, knownAt: 0, source: "x", adj: 1 },
      { date: "2024-07-19", factor: 1.1, knownAt: 0, source: "y" },
      "2024-07-22,1.2",
    ], SHANGHAI));
    expect(issues.map((issue) => `${issue.row} ${issue.field}`)).toEqual([
      "0 factor", "1 factor", "2 factor", "3 factor", "4 date", "5 knownAt", "6 source", "7 adj", "8 knownAt", "9 undefined",
    ]);
    expect(issues[0]!.message).toContain("finite number > 0");
    expect(issues[8]!.message).toContain("row 7 has the same date 2024-07-19");
  });
});
