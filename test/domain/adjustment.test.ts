import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { adjustBars, adjustmentRatio, factorAt, validateFactors, type AdjustmentFactor, type AdjustMode } from "../../src/domain/adjustment.ts";
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
  });
});

describe("minute bars take the factor of their trading date in the exchange's zone", () => {
  const factors: AdjustmentFactor[] = [
    { date: "2024-07-11", factor: 2, knownAt: 0, source: "test" },
  ];
  const at = (text: string) => Date.parse(text);
  const minute = (timestamp: number, price: number): Bar => ({ timestamp, open: price, high: price, low: price, close: price, volume: 1000, amount: 1000 * price });
  const bars = [
    minute(at("2024-07-10T15:00:00+08:00"), 10), // end-stamped last bar of the day before
    minute(at("2024-07-10T23:59:59.999+08:00"), 10),
    minute(at("2024-07-11T00:00:00+08:00"), 10), // the ex-date's local midnight (16:00 UTC the day before)
    minute(at("2024-07-11T09:31:00+08:00"), 10),
    minute(at("2024-07-11T15:00:00+08:00"), 10),
  ];

  test("a 15:00 end-stamped bar is on its own day; the ex-date starts at its local midnight", () => {
    const hfq = adjustBars(bars, factors, { mode: "hfq", timeZone: SHANGHAI });
    expect(hfq.map((bar) => bar.close)).toEqual([10, 10, 20, 20, 20]);
    // The same instants read in UTC fall on other dates: the zone decides.
    const utc = adjustBars(bars, factors, { mode: "hfq", timeZone: "UTC" });
    expect(utc.map((bar) => bar.close)).toEqual([10, 10, 10, 20, 20]);
  });

  test("descending and shuffled reads get the same factors as ascending ones", () => {
    const order = [4, 0, 3, 1, 2];
    const ascending = adjustBars(bars, factors, { mode: "qfq", timeZone: SHANGHAI });
    expect(adjustBars([...bars].reverse(), factors, { mode: "qfq", timeZone: SHANGHAI })).toEqual([...ascending].reverse());
    expect(adjustBars(order.map((i) => bars[i]!), factors, { mode: "qfq", timeZone: SHANGHAI })).toEqual(order.map((i) => ascending[i]!));
  });

  test("volume is raw unless adjustVolume, which divides it by the price ratio; amount stays raw", () => {
    const plain = adjustBars(bars, factors, { mode: "hfq", timeZone: SHANGHAI });
    expect(plain.map((bar) => bar.volume)).toEqual([1000, 1000, 1000, 1000, 1000]);
    const scaled = adjustBars(bars, factors, { mode: "hfq", timeZone: SHANGHAI, adjustVolume: true });
    expect(scaled.map((bar) => bar.volume)).toEqual([1000, 1000, 500, 500, 500]);
    expect(scaled.map((bar) => bar.amount)).toEqual(bars.map((bar) => bar.amount));
    // Price x volume is still the raw amount.
    expect(scaled.map((bar) => bar.close! * bar.volume!)).toEqual(bars.map((bar) => bar.amount!));
  });

  test("columns come back as columns: typed arrays as Float64Array, arrays keeping their nulls", () => {
    const timestamp = new Float64Array(bars.map((bar) => bar.timestamp));
    const columns = {
      timestamp,
      open: new Float32Array([10, 10, 10, 10, 10]),
      close: [10, null, 10, null, 10],
      volume: [1, 1, 1, 1, 1],
      amount: [5, 5, 5, 5, 5],
    };
    const hfq = adjustBars(columns, factors, { mode: "hfq", timeZone: SHANGHAI });
    expect(hfq.timestamp).toBe(timestamp);
    expect(hfq.open).toEqual(new Float64Array([10, 10, 20, 20, 20]));
    expect(hfq.close).toEqual([10, null, 20, null, 20]);
    expect(hfq.volume).toBe(columns.volume);
    expect(hfq.amount).toBe(columns.amount);
    expect(hfq.high).toBeUndefined();
    expect(adjustBars({ ...columns, timestamp: new BigInt64Array(bars.map((bar) => BigInt(bar.timestamp))) }, factors, { mode: "hfq", timeZone: SHANGHAI }).open)
      .toEqual(new Float64Array([10, 10, 20, 20, 20]));
  });

  test("adjustmentRatio gives the read path the ratio adjustBars applies, bar by bar in any order", () => {
    // As of the day before the ex-date the anchor is 1: the ex-date's bars read at 2 / 1.
    const ratioAt = adjustmentRatio(factors, { mode: "qfq", timeZone: SHANGHAI, asOf: "2024-07-10" });
    expect([4, 0, 3, 1, 2].map((i) => ratioAt(bars[i]!.timestamp))).toEqual([2, 1, 2, 1, 2]);
    expect(adjustmentRatio(factors, { mode: "none", timeZone: SHANGHAI })(bars[4]!.timestamp)).toBe(1);
  });

  test("mode none returns the bars themselves; a symbol without factors reads raw in every mode", () => {
    expect(adjustBars(bars, factors, { mode: "none", timeZone: SHANGHAI })).toBe(bars);
    expect(adjustBars(bars, [], { mode: "qfq", timeZone: SHANGHAI })).toEqual(bars);
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

  test("bad options are named: the mode, the zone, asOf, adjustVolume, a misspelled option", () => {
    const bars: Bar[] = [];
    const fieldsOf = (options: unknown) => issuesOf(() => adjustBars(bars, [], options as never)).map((issue) => issue.field);
    expect(fieldsOf({ mode: "forward", timeZone: SHANGHAI })).toEqual(["mode"]);
    expect(fieldsOf({ mode: "qfq", timeZone: "Mars/Olympus" })).toEqual(["timeZone"]);
    expect(fieldsOf({ mode: "qfq", timeZone: SHANGHAI, asOf: 1_720_656_000 })).toEqual(["asOf"]); // seconds
    expect(fieldsOf({ mode: "qfq", timeZone: SHANGHAI, adjustVolume: "yes" })).toEqual(["adjustVolume"]);
    expect(fieldsOf({ mode: "qfq", timeZone: SHANGHAI, as_of: 0 })).toEqual(["as_of"]);
  });
});

// ---------------------------------------------------------------------------------------------
// Generated: random factor histories and bars against a plain reference implementation

/** The trading date of an instant in a zone, the slow and obvious way. */
function referenceDate(timestamp: number, timeZone: string): string {
  return new Date(timestamp).toLocaleDateString("sv-SE", { timeZone });
}

/** The factor in force on `date`: the known row with the greatest (date, knownAt) at or before it. */
function referenceFactor(factors: readonly AdjustmentFactor[], date: string, asOf: number): number {
  let best: AdjustmentFactor | undefined;
  for (const row of factors) {
    if (row.knownAt > asOf || row.date > date) continue;
    if (!best || row.date > best.date || (row.date === best.date && row.knownAt > best.knownAt)) best = row;
  }
  return best ? best.factor : 1;
}

function referenceAdjust(bars: readonly Bar[], factors: readonly AdjustmentFactor[], mode: AdjustMode, asOf: number, timeZone: string): Bar[] {
  const anchor = mode === "qfq" ? referenceFactor(factors, referenceDate(asOf, timeZone), asOf) : 1;
  return bars.map((bar) => {
    const ratio = mode === "none" ? 1 : referenceFactor(factors, referenceDate(bar.timestamp, timeZone), asOf) / anchor;
    const scale = (value: number | null) => (value === null ? null : value * ratio);
    return { ...bar, open: scale(bar.open), high: scale(bar.high), low: scale(bar.low), close: scale(bar.close) };
  });
}

const DAY = 86_400_000;
const START = Date.parse("2024-01-01T00:00:00Z");
const dateOf = (day: number) => new Date(START + day * DAY).toISOString().slice(0, 10);

const factorRow = fc.record({
  day: fc.integer({ min: 0, max: 60 }),
  factor: fc.double({ min: 0.01, max: 1000, noNaN: true, noDefaultInfinity: true }),
  knownAt: fc.integer({ min: 0, max: 70 * DAY }).map((ms) => START + ms),
});
const barRow = fc.record({
  at: fc.integer({ min: -2 * DAY, max: 65 * DAY }).map((ms) => START + ms),
  price: fc.option(fc.double({ min: 0.01, max: 5000, noNaN: true, noDefaultInfinity: true }), { nil: null }),
});

test("adjustBars equals the reference for random factor histories, corrections, bars, zones and asOf", () => {
  fc.assert(fc.property(
    fc.uniqueArray(factorRow, { maxLength: 12, selector: (row) => `${row.day} ${row.knownAt}` }),
    fc.array(barRow, { maxLength: 40 }),
    fc.constantFrom<AdjustMode>("none", "qfq", "hfq"),
    fc.constantFrom("Asia/Shanghai", "UTC", "America/New_York"),
    fc.integer({ min: 0, max: 72 * DAY }).map((ms) => START + ms),
    (rows, barRows, mode, timeZone, asOf) => {
      const factors = rows.map((row) => ({ date: dateOf(row.day), factor: row.factor, knownAt: row.knownAt, source: "generated" }));
      const bars: Bar[] = barRows.map(({ at, price }) => ({ timestamp: at, open: price, high: price, low: price, close: price, volume: 7, amount: 7 }));
      const anyKnown = factors.length === 0 || factors.some((row) => row.knownAt <= asOf);
      if (!anyKnown && mode !== "none") {
        expect(issuesOf(() => adjustBars(bars, factors, { mode, timeZone, asOf }))[0]!.field).toBe("asOf");
        return;
      }
      const ours = adjustBars(bars, factors, { mode, timeZone, asOf });
      const ratioAt = adjustmentRatio(factors, { mode, timeZone, asOf });
      bars.forEach((bar, i) => expect(bar.close === null ? null : bar.close * ratioAt(bar.timestamp)).toBe(ours[i]!.close));
      const expected = referenceAdjust(bars, factors, mode, asOf, timeZone);
      ours.forEach((bar, i) => {
        for (const field of PRICE_FIELDS) {
          const want = expected[i]![field];
          if (want === null) expect(bar[field]).toBeNull();
          // ours multiplies by factor / anchor, the reference divides after: equal to rounding.
          else expect(Math.abs(bar[field]! - want)).toBeLessThanOrEqual(Math.abs(want) * 1e-15);
        }
        expect(bar.volume).toBe(7);
      });
    },
  ), { numRuns: 300 });
});
