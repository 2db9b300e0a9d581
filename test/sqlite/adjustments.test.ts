/**
 * Adjusted reads on a SQLite file (src/sqlite/adjustments.ts and the adjusting path of bars.ts):
 * Tushare's raw daily bars of 600036 with its adj_factor rows read qfq and hfq through getBars,
 * equal to the vendor's own columns to its rounding; the TDX ex-rights events turned into factors
 * by insertActions against baostock's raw closes, reproducing baostock's qfq; and generated factor
 * histories and bars against a plain reference written here.
 */
import { afterAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { factorsFromActions, openDatabase, type Bar } from "../../src/mod.ts";
import { roundHalfUp } from "../../src/domain/corporate-action.ts";
import { tempDir } from "../support/files.ts";
import { PRICE_FIELDS, readBaostockQfq, readBaostockRaw, readTdxActions, readTushareFactors, SHANGHAI } from "../support/real-data-adjustments.ts";

const dir = tempDir("tradelite-sqlite-adjustments-");
afterAll(() => dir.cleanup());
const SYMBOL = "600036.SH";

describe("Tushare's 600036 through a SQLite file", async () => {
  const days = await readTushareFactors();
  const db = openDatabase({ path: dir.file("tushare.db"), timezone: SHANGHAI, barTimestamp: "end" });
  db.insertBars(SYMBOL, days.map((day) => day.raw), { interval: "1d" });
  // Tushare publishes each day's factor before the open (09:15-09:20, its adj_factor page).
  db.adjustments.insert(SYMBOL, days.map((day) => ({ date: day.date, factor: day.factor, knownAt: `${day.date} 09:20`, source: "tushare" })));
  afterAll(() => db.close());

  for (const mode of ["qfq", "hfq"] as const) {
    test(`getBars adjust: ${mode} gives every price of the vendor's ${mode} column to its 5 decimals`, () => {
      const bars = db.getBars(SYMBOL, { interval: "1d", source: "stored", adjust: mode });
      expect(bars).toHaveLength(days.length);
      const wrong: string[] = [];
      bars.forEach((bar, i) => {
        for (const field of PRICE_FIELDS) if (roundHalfUp(bar[field]!, 5) !== days[i]![mode][field]) wrong.push(`${days[i]!.date} ${field}`);
      });
      expect(wrong).toEqual([]);
      // The merged 1d read (no source) and the stream give the same bars.
      expect(db.getBars(SYMBOL, { interval: "1d", adjust: mode })).toEqual(bars);
      expect([...db.iterateBars(SYMBOL, { interval: "1d", source: "stored", adjust: mode })]).toEqual(bars);
    });
  }

  test("a read as of 2024-12-31 15:00 is the same bars before and after 2025's factors were stored", () => {
    const asOf = "2024-12-31 15:00";
    const before = db.getBars(SYMBOL, { interval: "1d", source: "stored", adjust: "qfq", asOf, end: "2024-12-31" });
    const dec31 = before.length - 1;
    expect(before[dec31]!.close).toBe(days[dec31]!.raw.close);
    db.adjustments.insert(SYMBOL, [{ date: "2025-12-01", factor: 7, knownAt: "2025-12-01 09:20", source: "tushare" }]);
    expect(db.getBars(SYMBOL, { interval: "1d", source: "stored", adjust: "qfq", asOf, end: "2024-12-31" })).toEqual(before);
  });
});

describe("baostock's qfq of 600036 from TDX's events, factors computed by insertActions from the stored closes", async () => {
  const raw = await readBaostockRaw();
  const vendor = await readBaostockQfq();
  const events = await readTdxActions();
  const db = openDatabase({ path: dir.file("baostock.db"), timezone: SHANGHAI });
  db.insertBars(SYMBOL, raw, { interval: "1d" });
  afterAll(() => db.close());
  const dateOf = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10);
  // From the raw file's first day to baostock's fetch (2020-08-24); the 2006 share reform as
  // baostock takes it, the company's own transfer only (test/domain/corporate-action.test.ts).
  const actions = events
    .filter((action) => action.date >= "2005-01-04" && action.date <= "2020-08-24")
    .map((action) => (action.date === "2006-02-27" ? { date: action.date, bonus: 0.08589 } : action));

  test("the factors are the domain's factorsFromActions over the same closes, and qfq closes are within raw x 5e-7 of baostock's", () => {
    const factors = db.adjustments.insertActions(SYMBOL, actions, { source: "tdx", knownAt: "2005-01-01" });
    const closes = raw.map((bar) => [dateOf(bar.timestamp), bar.close!] as const);
    const previousClose = (date: string) => closes.findLast(([day]) => day < date)?.[1] ?? null;
    expect(factors).toEqual(factorsFromActions(actions, previousClose, { source: "tdx", knownAt: Date.parse("2005-01-01T00:00:00+08:00") }));
    const qfq = db.getBars(SYMBOL, { interval: "1d", source: "stored", adjust: "qfq", end: "2020-08-24", asOf: "2020-08-24 15:00" });
    const far: string[] = [];
    qfq.forEach((bar, i) => {
      const expected = vendor.get(dateOf(bar.timestamp));
      if (expected && Math.abs(bar.close! - expected.close) > raw[i]!.close! * 5e-7) far.push(`${dateOf(bar.timestamp)} ${bar.close} vs ${expected.close}`);
    });
    expect(far).toEqual([]);
    expect(qfq.filter((bar) => vendor.has(dateOf(bar.timestamp)))).toHaveLength(3802);
  });
});

describe("the factors a read adjusts with are the committed ones", () => {
  test("a factor another connection commits is seen by the next read; one rolled back here is not", () => {
    const path = dir.file("two-connections.db");
    const reader = openDatabase({ path, timezone: SHANGHAI, barTimestamp: "end" });
    const writer = openDatabase({ path, timezone: SHANGHAI, barTimestamp: "end" });
    try {
      const bar = { timestamp: "2024-07-11 15:00", open: 10, high: 10, low: 10, close: 10, volume: 100 };
      reader.insertBars(SYMBOL, [bar]);
      const day = { start: "2024-07-11", end: "2024-07-11", adjust: "hfq" } as const;
      expect(reader.getBars(SYMBOL, day)[0]!.close).toBe(10);
      writer.adjustments.insert(SYMBOL, [{ date: "2024-07-11", factor: 2 }]);
      expect(reader.getBars(SYMBOL, day)[0]!.close).toBe(20);
      // Written, read inside the transaction, then rolled back: gone for the reads after it.
      expect(() =>
        reader.transaction(() => {
          reader.adjustments.insert(SYMBOL, [{ date: "2024-07-11", factor: 3, knownAt: "2024-07-11 08:00" }]);
          expect(reader.getBars(SYMBOL, day)[0]!.close).toBe(30);
          throw new Error("changed my mind");
        }),
      ).toThrow("changed my mind");
      expect(reader.getBars(SYMBOL, day)[0]!.close).toBe(20);
      // This connection's own write is seen at once.
      reader.adjustments.insert(SYMBOL, [{ date: "2024-07-11", factor: 4, knownAt: "2024-07-11 09:00" }]);
      expect(reader.getBars(SYMBOL, day)[0]!.close).toBe(40);
      expect(writer.getBars(SYMBOL, day)[0]!.close).toBe(40);
    } finally {
      writer.close();
      reader.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Generated histories against a plain reference

/** The local date of an instant in `zone`, the plain way. */
function localDateOf(ms: number, zone: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(ms);
}

interface Row {
  date: string;
  factor: number;
  knownAt: number;
}

/** The factor in force on `date` among rows known at `asOf`: the latest date at or before it, its latest knownAt; 1 before all. */
function inForce(rows: readonly Row[], date: string, asOf: number): number {
  let best: Row | undefined;
  for (const row of rows) {
    if (row.knownAt > asOf || row.date > date) continue;
    if (!best || row.date > best.date || (row.date === best.date && row.knownAt > best.knownAt)) best = row;
  }
  return best?.factor ?? 1;
}

describe("generated factor histories and bars against a plain reference", () => {
  const zone = "Asia/Shanghai";
  const db = openDatabase({ path: ":memory:", timezone: zone });
  afterAll(() => db.close());
  const DAY = 86_400_000;
  const T0 = Date.parse("2024-03-04T00:00:00+08:00");
  const dateAt = (day: number) => localDateOf(T0 + day * DAY, zone);
  let run = 0;

  test("hfq and qfq at any asOf: every price is raw x the factor in force (over the one in force at asOf's date)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ day: fc.integer({ min: 0, max: 9 }), factor: fc.integer({ min: 1, max: 5_000 }).map((n) => n / 1_000), known: fc.integer({ min: 0, max: 12 * 24 }) }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.record({ minute: fc.integer({ min: 0, max: 10 * 1_440 - 1 }), price: fc.integer({ min: 1, max: 100_000 }).map((n) => n / 100) }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 0, max: 12 * 24 }),
        fc.constantFrom("qfq" as const, "hfq" as const),
        (generated, generatedBars, asOfHour, mode) => {
          const symbol = `P${run++}`;
          // One row per (date, knownAt): the store refuses a second factor for the same key.
          const rows = [...new Map(generated.map(({ day, factor, known }) => {
            const date = dateAt(day);
            const knownAt = T0 + known * 3_600_000;
            return [`${date} ${knownAt}`, { date, factor, knownAt }] as const;
          })).values()];
          db.adjustments.insert(symbol, rows);
          const bars: Bar[] = [...new Map(generatedBars.map(({ minute, price }) => [minute, { timestamp: T0 + minute * 60_000, open: price, high: price, low: price, close: price, volume: 100, amount: null }])).values()]
            .sort((a, b) => a.timestamp - b.timestamp);
          db.insertBars(symbol, bars);
          const asOf = T0 + asOfHour * 3_600_000;
          if (!rows.some((row) => row.knownAt <= asOf)) {
            expect(() => db.getBars(symbol, { adjust: mode, asOf })).toThrow("before any factor");
            return;
          }
          const anchor = mode === "qfq" ? inForce(rows, localDateOf(asOf, zone), asOf) : 1;
          const expected = bars.map((bar) => bar.close! * (inForce(rows, localDateOf(bar.timestamp, zone), asOf) / anchor));
          expect(db.getBars(symbol, { adjust: mode, asOf }).map((bar) => bar.close)).toEqual(expected);
          // A day's bar of adjusted minutes: the first open, the last close of that day's adjusted bars.
          const days = db.getBars(symbol, { adjust: mode, asOf, interval: "1d" });
          const byDate = new Map<string, number[]>();
          bars.forEach((bar, i) => byDate.set(localDateOf(bar.timestamp, zone), [...(byDate.get(localDateOf(bar.timestamp, zone)) ?? []), expected[i]!]));
          expect(days.map((bar) => [localDateOf(bar.timestamp, zone), bar.open, bar.close])).toEqual([...byDate].map(([date, prices]) => [date, prices[0]!, prices.at(-1)!]));
        },
      ),
      { numRuns: 150, seed: 20261205 },
    );
  });
});
