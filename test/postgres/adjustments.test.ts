/**
 * Adjusted reads differential: the same generated minute bars, daily bars and factor histories
 * (corrections included) in a SQLite store and a PostgreSQL store, read adjusted every way (1m,
 * 5m, 1h, 1d, 1w, 1M; start and end stamping; qfq and hfq at several asOf; adjustVolume; the
 * stored daily series), with identical bars required, in Asia/Shanghai and in
 * America/New_York across its 2024-03-10 DST change. fast-check with a fixed seed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { openStore, type BarQuery, type Store } from "../../src/mod.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";

const available = await postgresAvailable();
const RUNS = Number(process.env.TRADELITE_DIFF_RUNS || 6);
const databases: TestDatabase[] = [];
afterAll(async () => {
  for (const database of databases) await database.drop();
});

const ZONES = [
  { zone: "Asia/Shanghai", first: "2024-01-02" },
  // 2024-03-10 02:00 local: clocks go forward inside the window.
  { zone: "America/New_York", first: "2024-03-08" },
] as const;
const WINDOW_DAYS = 5;
const MINUTE = 60_000;

interface Scenario {
  bars: { minute: number; price: number; volume: number }[];
  daily: { day: number; price: number }[];
  factors: { day: number; factor: number; knownHours: number }[];
  asOfHours: number[];
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  // Every few minutes around the clock, so buckets cross local midnight and the DST hour.
  bars: fc.array(fc.record({ minute: fc.integer({ min: 0, max: WINDOW_DAYS * 1_440 - 1 }), price: fc.integer({ min: 100, max: 100_000 }).map((n) => n / 100), volume: fc.integer({ min: 0, max: 1e6 }) }), { minLength: 1, maxLength: 300 }),
  daily: fc.array(fc.record({ day: fc.integer({ min: 0, max: WINDOW_DAYS - 1 }), price: fc.integer({ min: 100, max: 100_000 }).map((n) => n / 100) }), { maxLength: 5 }),
  factors: fc.array(fc.record({ day: fc.integer({ min: 0, max: WINDOW_DAYS - 1 }), factor: fc.double({ min: 0.1, max: 20, noNaN: true }), knownHours: fc.integer({ min: -24, max: WINDOW_DAYS * 24 }) }), { minLength: 1, maxLength: 6 }),
  asOfHours: fc.array(fc.integer({ min: 0, max: WINDOW_DAYS * 24 + 48 }), { minLength: 1, maxLength: 3 }),
});

const QUERIES: BarQuery[] = [
  {},
  { interval: "5m" },
  { interval: "1h", barTimestamp: "end" },
  { interval: "1d" },
  { interval: "1d", source: "stored" },
  { interval: "1d", source: "minutes", barTimestamp: "end" },
  { interval: "1w" },
  { interval: "1M" },
  { order: "desc", limit: 7 },
];

/** A query's answer on a store: the bars, or the error's class and first issue. */
async function answer(store: Store, symbol: string, query: BarQuery): Promise<unknown> {
  try {
    const bars = await store.getBars(symbol, query);
    const streamed = [];
    for await (const bar of store.iterateBars(symbol, query)) streamed.push(bar);
    expect(streamed).toEqual(bars);
    return bars;
  } catch (error) {
    return { error: (error as Error).name, issues: (error as { issues?: unknown }).issues };
  }
}

describe.skipIf(!available)("adjusted reads: SQLite and PostgreSQL give identical bars", () => {
  for (const { zone, first } of ZONES) {
    describe(zone, () => {
      let sqlite: Store;
      let postgres: Store;
      beforeAll(async () => {
        const database = await createTestDatabase(`adjust-${zone.replace("/", "-").toLowerCase()}`);
        databases.push(database);
        sqlite = await openStore({ backend: "sqlite", path: ":memory:", timezone: zone });
        postgres = await openStore({ backend: "postgres", url: database.url, timezone: zone });
      });
      afterAll(async () => {
        await sqlite?.close();
        await postgres?.close();
      });

      test(`generated bars and factor histories, ${RUNS} runs: every adjusted read equal`, async () => {
        const t0 = toInstant(first, zone);
        let run = 0;
        await fc.assert(
          fc.asyncProperty(scenario, async ({ bars, daily, factors, asOfHours }) => {
            const symbol = `S${run++}`;
            const date = (day: number) => new Date(Date.parse(`${first}T00:00:00Z`) + day * 86_400_000).toISOString().slice(0, 10);
            const minutes = [...new Map(bars.map((bar) => [bar.minute, bar])).values()].map((bar) => ({
              timestamp: t0 + bar.minute * MINUTE, open: bar.price, high: bar.price + 0.07, low: bar.price - 0.03, close: bar.price + 0.01, volume: bar.volume, amount: bar.volume * bar.price,
            }));
            const days = [...new Map(daily.map((bar) => [bar.day, bar])).values()].map((bar) => ({ timestamp: date(bar.day), open: bar.price, high: bar.price, low: bar.price, close: bar.price, volume: 10 }));
            const rows = [...new Map(factors.map((row) => [`${row.day} ${row.knownHours}`, row])).values()].map((row) => ({
              date: date(row.day), factor: row.factor, knownAt: t0 + row.knownHours * 3_600_000,
            }));
            for (const store of [sqlite, postgres]) {
              await store.insertBars(symbol, minutes);
              if (days.length > 0) await store.insertBars(symbol, days, { interval: "1d" });
              await store.adjustments.insert(symbol, rows);
            }
            expect(await postgres.adjustments.list(symbol)).toEqual(await sqlite.adjustments.list(symbol));
            for (const asOfHour of asOfHours) {
              const asOf = t0 + asOfHour * 3_600_000;
              for (const base of QUERIES) {
                for (const adjust of ["qfq", "hfq"] as const) {
                  const query: BarQuery = { ...base, adjust, asOf, ...(adjust === "hfq" ? { adjustVolume: true } : {}) };
                  const [mine, theirs] = [await answer(sqlite, symbol, query), await answer(postgres, symbol, query)];
                  expect([JSON.stringify(query), theirs]).toEqual([JSON.stringify(query), mine]);
                }
              }
            }
          }),
          { numRuns: RUNS, seed: 20261205 },
        );
      }, 240_000);
    });
  }
});

/** The local midnight of `date` in `zone`. */
function toInstant(date: string, zone: string): number {
  const guess = Date.parse(`${date}T00:00:00Z`);
  const offset = (ms: number) => {
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).formatToParts(ms).map((part) => [part.type, part.value]));
    return Date.UTC(+parts.year!, +parts.month! - 1, +parts.day!, +parts.hour!, +parts.minute!) - ms;
  };
  return guess - offset(guess);
}
