/**
 * The same generated inputs through the SQLite store and the PostgreSQL store, operation by
 * operation, with identical outputs required: upserts (repeats inside a batch, NULLs, overlaps),
 * deletes, and reads of every kind, resampling in Asia/Shanghai and America/New_York across a DST
 * change included, and the daily series beside the minutes (daily upserts, deletes, 1d reads of
 * either source or both merged, the data-quality comparison). fast-check with a fixed seed
 * (TRADELITE_DIFF_RUNS sequences per zone).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { BAR_SOURCES, dailyDifferences, INTERVALS, openStore, type BarInput, type BarQuery, type Store } from "../../src/mod.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";

const available = await postgresAvailable();
const RUNS = Number(process.env.TRADELITE_DIFF_RUNS || 12);
const MINUTE = 60_000;
let database: TestDatabase;

beforeAll(async () => {
  if (available) database = await createTestDatabase("differential");
});
afterAll(async () => {
  if (available) await database.drop();
});

type Operation =
  | { kind: "insert"; symbol: number; bars: { minute: number; price: number; volume: number | null; amount: number | null }[] }
  | { kind: "delete"; symbol: number; range: { from: number; to: number } | null }
  | { kind: "get"; symbol: number; query: { from?: number; to?: number; interval?: (typeof INTERVALS)[number]; barTimestamp?: "start" | "end"; order?: "asc" | "desc"; limit?: number } }
  | { kind: "latest"; symbol: number }
  | { kind: "overview" }
  /** Daily bars on days of the window (`minute` set: a time off midnight, refused on both). */
  | { kind: "insertDaily"; symbol: number; bars: { day: number; minute: number | null; price: number; volume: number | null; amount: number | null }[] }
  | { kind: "deleteDaily"; symbol: number; range: { from: number; to: number } | null }
  | { kind: "getDaily"; symbol: number; query: { from?: number; to?: number; source?: (typeof BAR_SOURCES)[number]; barTimestamp?: "start" | "end"; order?: "asc" | "desc"; limit?: number } }
  | { kind: "dailyDiff"; symbol: number };

/** Minutes within a 4-day window: the DST change falls inside it. */
const WINDOW_MINUTES = 4 * 1_440;
const WINDOW_DAYS = 4;
const minute = fc.integer({ min: 0, max: WINDOW_MINUTES - 1 });
const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("insert" as const),
      symbol: fc.integer({ min: 0, max: 1 }),
      bars: fc.array(
        fc.record({
          minute: fc.oneof(minute, fc.integer({ min: 0, max: 40 })),
          price: fc.integer({ min: 100, max: 100_000 }).map((cents) => cents / 100),
          volume: fc.option(fc.integer({ min: 0, max: 1e7 }), { nil: null }),
          // Full-precision amounts and a few huge ones: sums in another order or without
          // compensation would differ in the last bits.
          amount: fc.option(fc.oneof(fc.double({ min: 0, max: 1e12, noNaN: true }), fc.constantFrom(1e16, 0.1, 0.2, 0.3, 1)), { nil: null }),
        }),
        { minLength: 1, maxLength: 60 },
      ),
    }),
  },
  {
    weight: 2,
    // A run of consecutive minutes: full buckets to resample.
    arbitrary: fc.record({ symbol: fc.integer({ min: 0, max: 1 }), from: minute, length: fc.integer({ min: 30, max: 400 }), seed: fc.integer({ min: 1, max: 1e6 }) }).map(
      ({ symbol, from, length, seed }): Operation => ({
        kind: "insert",
        symbol,
        bars: Array.from({ length: Math.min(length, WINDOW_MINUTES - from) }, (_, i) => ({
          minute: from + i,
          price: 10 + ((seed * (i + 1)) % 997) / 100,
          volume: (seed * (i + 3)) % 5_000,
          amount: i % 37 === 0 ? 1e16 : ((seed * (i + 7)) % 100_003) / 7,
        })),
      }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("delete" as const),
      symbol: fc.integer({ min: 0, max: 1 }),
      range: fc.option(fc.tuple(minute, minute).map(([a, b]) => ({ from: Math.min(a, b), to: Math.max(a, b) })), { nil: null }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("get" as const),
      symbol: fc.integer({ min: 0, max: 1 }),
      query: fc.record(
        {
          from: minute,
          to: minute,
          interval: fc.constantFrom(...INTERVALS),
          barTimestamp: fc.constantFrom("start" as const, "end" as const),
          order: fc.constantFrom("asc" as const, "desc" as const),
          limit: fc.integer({ min: 1, max: 50 }),
        },
        { requiredKeys: [] },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("latest" as const), symbol: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "overview" as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("insertDaily" as const),
      symbol: fc.integer({ min: 0, max: 1 }),
      bars: fc.array(
        fc.record({
          day: fc.integer({ min: 0, max: WINDOW_DAYS - 1 }),
          // Now and then a time off midnight: the whole batch is refused, alike on both.
          minute: fc.oneof({ weight: 12, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: minute }),
          price: fc.integer({ min: 100, max: 100_000 }).map((cents) => cents / 100),
          volume: fc.option(fc.integer({ min: 0, max: 1e9 }), { nil: null }),
          amount: fc.option(fc.double({ min: 0, max: 1e12, noNaN: true }), { nil: null }),
        }),
        { minLength: 1, maxLength: 6 },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("deleteDaily" as const),
      symbol: fc.integer({ min: 0, max: 1 }),
      range: fc.option(fc.tuple(minute, minute).map(([a, b]) => ({ from: Math.min(a, b), to: Math.max(a, b) })), { nil: null }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("getDaily" as const),
      symbol: fc.integer({ min: 0, max: 1 }),
      query: fc.record(
        {
          from: minute,
          to: minute,
          source: fc.constantFrom(...BAR_SOURCES),
          barTimestamp: fc.constantFrom("start" as const, "end" as const),
          order: fc.constantFrom("asc" as const, "desc" as const),
          limit: fc.integer({ min: 1, max: 5 }),
        },
        { requiredKeys: [] },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("dailyDiff" as const), symbol: fc.integer({ min: 0, max: 1 }) }) },
);


/** What one operation gives on one store: its value, or its error's class and code. */
async function apply(store: Store, operation: Operation, prefix: string, first: number, firstDate: string): Promise<unknown> {
  const symbol = `${prefix}${"symbol" in operation ? operation.symbol : ""}`;
  const at = (m: number) => first + m * MINUTE;
  try {
    switch (operation.kind) {
      case "insert": {
        const bars: BarInput[] = operation.bars.map((bar) => ({
          timestamp: at(bar.minute),
          open: bar.price,
          high: bar.price + 0.05,
          low: bar.price - 0.01,
          close: bar.price + 0.02,
          volume: bar.volume,
          amount: bar.amount,
        }));
        return await store.insertBars(symbol, bars);
      }
      case "delete":
        return await store.deleteBars(symbol, operation.range ? { start: at(operation.range.from), end: at(operation.range.to) } : undefined);
      case "get": {
        const { from, to, ...rest } = operation.query;
        const query: BarQuery = { ...rest };
        if (from !== undefined) query.start = at(from);
        if (to !== undefined) query.end = at(to);
        return await store.getBars(symbol, query);
      }
      case "latest":
        return await store.latestBar(symbol);
      case "insertDaily": {
        const date = (day: number) => new Date(Date.parse(firstDate) + day * 86_400_000).toISOString().slice(0, 10);
        const bars: BarInput[] = operation.bars.map((bar) => ({
          timestamp: bar.minute === null ? date(bar.day) : at(bar.minute),
          open: bar.price,
          high: bar.price + 0.05,
          low: bar.price - 0.01,
          close: bar.price + 0.02,
          volume: bar.volume,
          amount: bar.amount,
        }));
        return await store.insertBars(symbol, bars, { interval: "1d" });
      }
      case "deleteDaily":
        return await store.deleteBars(symbol, operation.range ? { start: at(operation.range.from), end: at(operation.range.to) } : undefined, { interval: "1d" });
      case "getDaily": {
        const { from, to, ...rest } = operation.query;
        const query: BarQuery = { ...rest, interval: "1d" };
        if (from !== undefined) query.start = at(from);
        if (to !== undefined) query.end = at(to);
        return await store.getBars(symbol, query);
      }
      case "dailyDiff":
        return await dailyDifferences(store, symbol);
      case "overview":
        return (await store.overview()).filter((row) => row.symbol.startsWith(prefix));
    }
  } catch (error) {
    return { error: (error as Error).constructor.name, code: (error as { code?: string }).code };
  }
}

describe.skipIf(!available)("SQLite and PostgreSQL give identical outputs for the same generated inputs", () => {
  // Each window starts at a local midnight: `firstDate` is that date.
  for (const [timezone, first, firstDate] of [
    ["America/New_York", Date.UTC(2024, 2, 8, 5), "2024-03-08"],
    ["Asia/Shanghai", Date.UTC(2024, 0, 1, 16), "2024-01-02"],
  ] as const) {
    test(`${timezone}: upserts, deletes and every kind of read, ${RUNS} sequences`, async () => {
      // One database for both zones: it stores one zone at a time, so each test sets its own.
      const postgres = await openStore({ backend: "postgres", url: database.url, max: 2 });
      await postgres.updateSettings({ timezone });
      let run = 0;
      let operations = 0;
      try {
        await fc.assert(
          fc.asyncProperty(fc.array(operation, { minLength: 5, maxLength: 25 }), async (sequence) => {
            const prefix = `${timezone.slice(0, 2)}${++run}-`;
            const sqlite = await openStore({ backend: "sqlite", path: ":memory:", timezone });
            try {
              for (const [step, op] of sequence.entries()) {
                const expected = await apply(sqlite, op, prefix, first, firstDate);
                const actual = await apply(postgres, op, prefix, first, firstDate);
                expect({ step, op: op.kind, actual }).toEqual({ step, op: op.kind, actual: expected });
                operations++;
              }
            } finally {
              await sqlite.close();
            }
          }),
          { seed: 20_261_127, numRuns: RUNS, endOnFailure: true },
        );
      } finally {
        await postgres.close();
      }
      console.log(`differential ${timezone}: ${run} sequences, ${operations} operations, identical`);
    });
  }
});
