import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { adjustBars, adjustmentRatio, type AdjustMode } from "../../src/domain/adjusted-bars.ts";
import type { AdjustmentFactor } from "../../src/domain/adjustment.ts";
import type { Bar } from "../../src/domain/bar.ts";
import { issuesOf } from "../support/domain-fixtures.ts";
import { PRICE_FIELDS, SHANGHAI } from "../support/real-data-adjustments.ts";

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

test("bad options are named: the mode, the zone, asOf, adjustVolume, a misspelled option", () => {
  const bars: Bar[] = [];
  const fieldsOf = (options: unknown) => issuesOf(() => adjustBars(bars, [], options as never)).map((issue) => issue.field);
  expect(fieldsOf({ mode: "forward", timeZone: SHANGHAI })).toEqual(["mode"]);
  expect(fieldsOf({ mode: "qfq", timeZone: "Mars/Olympus" })).toEqual(["timeZone"]);
  expect(fieldsOf({ mode: "qfq", timeZone: SHANGHAI, asOf: 1_720_656_000 })).toEqual(["asOf"]); // seconds
  expect(fieldsOf({ mode: "qfq", timeZone: SHANGHAI, adjustVolume: "yes" })).toEqual(["adjustVolume"]);
  expect(fieldsOf({ mode: "qfq", timeZone: SHANGHAI, as_of: 0 })).toEqual(["as_of"]);
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
