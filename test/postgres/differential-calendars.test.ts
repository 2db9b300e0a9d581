/**
 * Session-aligned reads and completeness through the SQLite store and the PostgreSQL store, with
 * identical outputs required (toEqual: every value to the bit): the real Shanghai Composite
 * 1-minute file under XSHG at every interval and both stampings, then generated sequences of
 * upserts, deletes, session reads and completeness reports (fast-check, fixed seed,
 * TRADELITE_DIFF_RUNS sequences per case) under a New York calendar across the change to
 * daylight time (a half day, a night session spanning the skipped hour) and under XSHG and XSHE
 * across the 2024 Spring Festival closure. The sibling of differential.test.ts, which covers the
 * clock-aligned reads.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { INTERVALS, openStore, type BarInput, type BarQuery, type Store } from "../../src/mod.ts";
import { parseSessions, type CalendarData } from "../../src/domain/calendar.ts";
import { readTdxBars, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";

const available = await postgresAvailable();
const RUNS = Number(process.env.TRADELITE_DIFF_RUNS || 12);
const MINUTE = 60_000;
const DAY = 86_400_000;
const STAMPINGS = ["start", "end"] as const;
let database: TestDatabase;

beforeAll(async () => {
  if (available) database = await createTestDatabase("differential_calendars");
});
afterAll(async () => {
  if (available) await database.drop();
});

/** Weekdays from `first` for `count` days (YYYY-MM-DD). */
function weekdays(first: string, count: number): string[] {
  const start = Date.parse(`${first}T00:00:00Z`);
  return Array.from({ length: count }, (_, i) => new Date(start + i * DAY))
    .filter((d) => d.getUTCDay() !== 0 && d.getUTCDay() !== 6)
    .map((d) => d.toISOString().slice(0, 10));
}

/** US equities in March 2024: a half day on the Friday before the change to daylight time. */
const US_EQ: CalendarData = {
  name: "US-EQ",
  timezone: "America/New_York",
  days: weekdays("2024-03-01", 31),
  rules: [{ from: "2024-01-01", sessions: parseSessions("09:30-16:00") }],
  exceptions: { "2024-03-08": parseSessions("09:30-13:00") },
};

/** Every day, one night session across 02:00-03:00, which 2024-03-10 skips in New York. */
const NIGHT: CalendarData = {
  name: "NIGHT",
  timezone: "America/New_York",
  days: Array.from({ length: 31 }, (_, i) => `2024-03-${String(i + 1).padStart(2, "0")}`),
  rules: [{ from: "2024-01-01", sessions: parseSessions("00:30-03:30") }],
};

interface Case {
  timezone: string;
  /** The first instant of the window, local midnight. */
  first: number;
  days: number;
  /** Symbol 0 follows the first calendar, symbol 1 the second; symbol 2 has none. */
  calendars: [string, string];
  put: CalendarData[];
}

const CASES: Case[] = [
  { timezone: "America/New_York", first: Date.UTC(2024, 2, 7, 5), days: 8, calendars: ["US-EQ", "NIGHT"], put: [US_EQ, NIGHT] },
  { timezone: "Asia/Shanghai", first: Date.UTC(2024, 1, 6, 16), days: 14, calendars: ["XSHG", "XSHE"], put: [] },
];

type Operation =
  | { kind: "insert"; symbol: number; bars: { minute: number; price: number; volume: number | null; amount: number | null }[] }
  | { kind: "delete"; symbol: number; range: { from: number; to: number } | null }
  | { kind: "read"; symbol: number; query: { from?: number; to?: number; interval: (typeof INTERVALS)[number]; barTimestamp?: "start" | "end"; order?: "asc" | "desc"; limit?: number } }
  | { kind: "completeness"; symbol: number; range: { from?: number; to?: number } };

/** Consecutive minutes, every `gap`-th missing: whole sessions to bucket and gaps to find. */
function runInsert(windowMinutes: number, symbol: fc.Arbitrary<number>): fc.Arbitrary<Operation> {
  return fc
    .record({ symbol, from: fc.integer({ min: 0, max: windowMinutes - 1 }), length: fc.integer({ min: 60, max: 3_000 }), seed: fc.integer({ min: 1, max: 1e6 }), gap: fc.integer({ min: 7, max: 400 }) })
    .map(({ symbol, from, length, seed, gap }): Operation => ({
      kind: "insert",
      symbol,
      bars: Array.from({ length: Math.min(length, windowMinutes - from) }, (_, i) => ({
        minute: from + i,
        price: 10 + ((seed * (i + 1)) % 997) / 100,
        volume: (seed * (i + 3)) % 5_000,
        amount: i % 37 === 0 ? 1e16 : ((seed * (i + 7)) % 100_003) / 7,
      })).filter((_, i) => i % gap !== gap - 1),
    }));
}

/** Two runs of bars first (so most reads find some), then any operations. */
function sequences(windowMinutes: number): fc.Arbitrary<Operation[]> {
  return fc
    .tuple(runInsert(windowMinutes, fc.constant(0)), runInsert(windowMinutes, fc.constant(1)), fc.array(operations(windowMinutes), { minLength: 5, maxLength: 25 }))
    .map(([first, second, rest]) => [first, second, ...rest]);
}

function operations(windowMinutes: number): fc.Arbitrary<Operation> {
  const minute = fc.integer({ min: 0, max: windowMinutes - 1 });
  const symbol = fc.constantFrom(0, 0, 0, 1, 1, 2);
  return fc.oneof(
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant("insert" as const),
        symbol,
        bars: fc.array(
          fc.record({
            minute,
            price: fc.integer({ min: 100, max: 100_000 }).map((cents) => cents / 100),
            volume: fc.option(fc.integer({ min: 0, max: 1e7 }), { nil: null }),
            // Full-precision and huge amounts: a sum in another order or uncompensated differs.
            amount: fc.option(fc.oneof(fc.double({ min: 0, max: 1e12, noNaN: true }), fc.constantFrom(1e16, 0.1, 0.2, 0.3)), { nil: null }),
          }),
          { minLength: 1, maxLength: 40 },
        ),
      }),
    },
    { weight: 4, arbitrary: runInsert(windowMinutes, symbol) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("delete" as const),
        symbol,
        range: fc.option(fc.tuple(minute, minute).map(([a, b]) => ({ from: Math.min(a, b), to: Math.max(a, b) })), { nil: null }),
      }),
    },
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant("read" as const),
        symbol,
        query: fc.record(
          {
            // Mostly ranges that hold bars; now and then start after end (refused alike).
            from: fc.integer({ min: 0, max: windowMinutes / 2 }),
            to: fc.integer({ min: windowMinutes / 4, max: windowMinutes - 1 }),
            interval: fc.constantFrom(...INTERVALS),
            barTimestamp: fc.constantFrom(...STAMPINGS),
            order: fc.constantFrom("asc" as const, "desc" as const),
            limit: fc.integer({ min: 1, max: 50 }),
          },
          { requiredKeys: ["interval"] },
        ),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant("completeness" as const), symbol, range: fc.record({ from: fc.integer({ min: 0, max: windowMinutes / 2 }), to: fc.integer({ min: windowMinutes / 4, max: windowMinutes - 1 }) }, { requiredKeys: [] }) }),
    },
  );
}

/** What one operation gives on one store: its value, or its error's class and code. */
async function apply(store: Store, operation: Operation, prefix: string, first: number): Promise<unknown> {
  const symbol = `${prefix}${operation.symbol}`;
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
      case "read": {
        const { from, to, ...rest } = operation.query;
        const query: BarQuery = { ...rest, align: "session" };
        if (from !== undefined) query.start = at(from);
        if (to !== undefined) query.end = at(to);
        return await store.getBars(symbol, query);
      }
      case "completeness": {
        const { from, to } = operation.range;
        return await store.completeness(symbol, {
          ...(from === undefined ? {} : { start: at(from) }),
          ...(to === undefined ? {} : { end: at(to) }),
        });
      }
    }
  } catch (error) {
    return { error: (error as Error).constructor.name, code: (error as { code?: string }).code };
  }
}

async function assignAll(store: Store, prefix: string, calendars: readonly [string, string]): Promise<void> {
  await store.calendars.assign(`${prefix}0`, calendars[0]);
  await store.calendars.assign(`${prefix}1`, calendars[1]);
}

describe.skipIf(!available)("SQLite and PostgreSQL: identical session-aligned reads and completeness", () => {
  test("the real 1-minute file under XSHG: every interval, both stampings, both orders; completeness whole and of a range", async () => {
    const bars = await readTdxBars(TDX_INDEX_1MIN);
    const options = { timezone: "Asia/Shanghai", barTimestamp: "end" as const };
    const sqlite = await openStore({ backend: "sqlite", path: ":memory:", ...options });
    const postgres = await openStore({ backend: "postgres", url: database.url, max: 2, ...options });
    try {
      for (const store of [sqlite, postgres]) {
        await store.insertBars("REAL.SH", bars);
        await store.calendars.assign("REAL.SH", "XSHG");
        await store.deleteBars("REAL.SH", { start: "2023-03-01 10:00", end: "2023-03-01 10:09" });
      }
      for (const interval of INTERVALS) {
        for (const barTimestamp of STAMPINGS) {
          for (const order of ["asc", "desc"] as const) {
            const query: BarQuery = { interval, barTimestamp, order, align: "session" };
            const expected = await sqlite.getBars("REAL.SH", query);
            expect(expected.length).toBeGreaterThan(0);
            expect({ query, bars: await postgres.getBars("REAL.SH", query) }).toEqual({ query, bars: expected });
          }
        }
      }
      expect(await postgres.completeness("REAL.SH")).toEqual(await sqlite.completeness("REAL.SH"));
      const range = { start: "2023-02-27", end: "2023-03-03 23:59" };
      const report = await sqlite.completeness("REAL.SH", range);
      expect(report.days.map((d) => d.present)).toEqual([240, 240, 230, 240, 240]);
      expect(await postgres.completeness("REAL.SH", range)).toEqual(report);
    } finally {
      await sqlite.close();
      await postgres.close();
    }
  });

  for (const testCase of CASES) {
    for (const barTimestamp of STAMPINGS) {
      test(`${testCase.timezone} (${testCase.calendars.join(", ")}), stored ${barTimestamp}-stamped: session reads and completeness, ${RUNS} sequences`, async () => {
        const { timezone, first, calendars } = testCase;
        // A database stores one zone and one stamping (and refuses a change of stamping while it
        // holds bars), so each case has a database of its own.
        const own = await createTestDatabase(`diffcal_${timezone.slice(0, 7)}_${barTimestamp}`);
        const postgres = await openStore({ backend: "postgres", url: own.url, timezone, barTimestamp, max: 2 });
        for (const calendar of testCase.put) await postgres.calendars.put(calendar);
        let run = 0;
        let steps = 0;
        let reports = 0;
        let filled = 0;
        try {
          await fc.assert(
            fc.asyncProperty(sequences(testCase.days * 1_440), async (sequence) => {
              const prefix = `${timezone.slice(0, 2)}${barTimestamp}${++run}-`;
              const sqlite = await openStore({ backend: "sqlite", path: ":memory:", timezone, barTimestamp });
              try {
                for (const calendar of testCase.put) await sqlite.calendars.put(calendar);
                await assignAll(sqlite, prefix, calendars);
                await assignAll(postgres, prefix, calendars);
                for (const [step, op] of sequence.entries()) {
                  const expected = await apply(sqlite, op, prefix, first);
                  const actual = await apply(postgres, op, prefix, first);
                  expect({ step, op: op.kind, actual }).toEqual({ step, op: op.kind, actual: expected });
                  steps++;
                  if (op.kind === "completeness" && !("error" in (expected as object))) reports++;
                  if (op.kind === "read" && Array.isArray(expected) && expected.length > 0) filled++;
                }
              } finally {
                await sqlite.close();
              }
            }),
            { seed: 20_261_205, numRuns: RUNS, endOnFailure: true },
          );
        } finally {
          await postgres.close();
          await own.drop();
        }
        // The sequences must reach what they claim to compare, not only errors and empty reads.
        expect(reports).toBeGreaterThan(0);
        expect(filled).toBeGreaterThan(0);
        console.log(`differential calendars ${timezone} ${barTimestamp}: ${run} sequences, ${steps} operations, ${filled} non-empty session reads, ${reports} completeness reports, identical`);
      });
    }
  }
});
