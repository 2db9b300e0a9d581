/**
 * The as-of cross-section through the Store interface: part of the conformance suite
 * (test/support/conformance.ts calls it), so every backend answers the same. Generated stores
 * are checked against a plain reference computed here from the bars written.
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import { StorageError, ValidationError, type Bar, type CrossSection, type Store } from "../../src/mod.ts";
import { randomBars } from "./bars.ts";
import type { StoreFactoryOptions } from "./conformance.ts";

const SHANGHAI = { timezone: "Asia/Shanghai", barTimestamp: "end" } as const;
const MINUTE = 60_000;
/** 2024-07-11 09:31 in Shanghai. */
const T0 = Date.parse("2024-07-11T09:31:00+08:00");

/** Symbols whose code point order differs from UTF-16 order and from a locale's ("a" after "B"). */
const POOL = ["600519.SH", "000001.SZ", "a.test", "B.test", "^GSPC", "ES=F", "中文", "\u{1F600}x", "\uFF21b"];

/** What the store must answer: per symbol the newest bar at or before `at`, in code point order. */
function reference(stored: Map<string, Bar[]>, at: number, symbols: readonly string[] | undefined): Pick<CrossSection, "rows" | "missing"> {
  const names = symbols ?? [...stored.keys()];
  const rows: CrossSection["rows"] = [];
  const missing: string[] = [];
  for (const symbol of names) {
    const before = (stored.get(symbol) ?? []).filter((bar) => bar.timestamp <= at);
    const bar = before.reduce<Bar | undefined>((newest, candidate) => (newest && newest.timestamp > candidate.timestamp ? newest : candidate), undefined);
    if (bar) rows.push({ symbol, bar });
    else if (symbols) missing.push(symbol);
  }
  const byCodePoint = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  rows.sort((a, b) => byCodePoint(a.symbol, b.symbol));
  return { rows, missing: missing.sort(byCodePoint) };
}

async function refusal(promise: Promise<unknown>): Promise<ValidationError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

const fields = (error: ValidationError) => error.issues.map((issue) => issue.field);

export function crossSectionConformance(fresh: (options?: StoreFactoryOptions) => Promise<Store>): void {
  test("a cross-section equals the reference on generated stores: each symbol's newest bar at or before at, sorted by code point, the named ones without one missing", async () => {
    const store = await fresh();
    const stored = new Map<string, Bar[]>();
    // Each symbol: a random set of minutes in a 3-hour window (some symbols none).
    const history = fc.array(fc.integer({ min: 0, max: 180 }), { maxLength: 25 });
    const histories = fc.sample(fc.tuple(...POOL.map(() => history)), { numRuns: 1, seed: 19 })[0]!;
    for (const [i, symbol] of POOL.entries()) {
      const minutes = [...new Set(histories[i]!)].sort((a, b) => a - b);
      if (minutes.length === 0) continue;
      const bars = randomBars(minutes.map((m) => T0 + m * MINUTE), i + 1);
      await store.insertBars(symbol, bars);
      stored.set(symbol, bars);
    }
    // A daily bar of a symbol with no minutes is not in a minute cross-section.
    await store.insertBars("daily.only", [{ timestamp: "2024-07-10", close: 1 }], { interval: "1d" });
    await fc.assert(
      fc.asyncProperty(
        // An instant before every bar, on a bar's minute, a millisecond either side, or after all.
        fc.integer({ min: -2, max: 183 }).chain((m) => fc.constantFrom(T0 + m * MINUTE, T0 + m * MINUTE - 1, T0 + m * MINUTE + 1)),
        fc.option(fc.shuffledSubarray(POOL, { minLength: 1 }), { nil: undefined }),
        async (at, symbols) => {
          const answer = await store.getCrossSection(symbols === undefined ? { at } : { at, symbols });
          expect(answer).toEqual({ at, interval: "1m", ...reference(stored, at, symbols) });
        },
      ),
      { numRuns: 40, seed: 20_241_205 },
    );
  });

  test("at before every bar, exactly on a bar, and one ms before it; an unknown symbol is missing", async () => {
    const store = await fresh(SHANGHAI);
    const bars = randomBars([T0, T0 + MINUTE, T0 + 2 * MINUTE], 3);
    await store.insertBars("600519.SH", bars);
    await store.insertBars("000001.SZ", randomBars([T0 + MINUTE], 4));
    const named = ["600519.SH", "000001.SZ", "NOPE"];
    expect(await store.getCrossSection({ at: T0 - 1, symbols: named })).toEqual({ at: T0 - 1, interval: "1m", rows: [], missing: ["000001.SZ", "600519.SH", "NOPE"] });
    expect(await store.getCrossSection({ at: T0 - 1 })).toEqual({ at: T0 - 1, interval: "1m", rows: [], missing: [] });
    const onBar = await store.getCrossSection({ at: T0 + MINUTE, symbols: named });
    expect(onBar.rows.map((row) => [row.symbol, row.bar.timestamp])).toEqual([["000001.SZ", T0 + MINUTE], ["600519.SH", T0 + MINUTE]]);
    expect(onBar.rows[1]!.bar).toEqual(bars[1]!);
    expect(onBar.missing).toEqual(["NOPE"]);
    const justBefore = await store.getCrossSection({ at: T0 + MINUTE - 1, symbols: named });
    expect(justBefore.rows).toEqual([{ symbol: "600519.SH", bar: bars[0]! }]);
    expect(justBefore.missing).toEqual(["000001.SZ", "NOPE"]);
    // A naive time is read in the store's zone, as every other timestamp.
    expect((await store.getCrossSection({ at: "2024-07-11 09:32" })).at).toBe(T0 + MINUTE);
  });

  test("a date alone is the end of that day in the store's zone: the day's closing bars, not the next day's", async () => {
    const store = await fresh(SHANGHAI);
    const close = Date.parse("2024-07-11T15:00:00+08:00");
    const nextOpen = Date.parse("2024-07-12T09:31:00+08:00");
    await store.insertBars("600519.SH", randomBars([T0, close, nextOpen], 5));
    // Stamped at the next local midnight: after the day, however its end is written.
    await store.insertBars("000001.SZ", randomBars([Date.parse("2024-07-12T00:00:00+08:00")], 6));
    const endOfDay = Date.parse("2024-07-12T00:00:00+08:00") - 1;
    for (const at of ["2024-07-11", "20240711"]) {
      const answer = await store.getCrossSection({ at, symbols: ["600519.SH", "000001.SZ"] });
      expect(answer.at).toBe(endOfDay);
      expect(answer.rows.map((row) => [row.symbol, row.bar.timestamp])).toEqual([["600519.SH", close]]);
      expect(answer.missing).toEqual(["000001.SZ"]);
    }
  });

  test("interval 1d reads the stored daily series and counts only days ended by at; 1m ignores it", async () => {
    const store = await fresh(SHANGHAI);
    await store.insertBars("600519.SH", [{ timestamp: "2024-07-10", close: 10 }, { timestamp: "2024-07-11", close: 11 }], { interval: "1d" });
    await store.insertBars("600519.SH", randomBars([T0], 7));
    const day = async (at: string | number) => (await store.getCrossSection({ at, interval: "1d" })).rows.map((row) => row.bar.close);
    // 10:00 on the 11th: the 11th's close is not known yet.
    expect(await day("2024-07-11 10:00")).toEqual([10]);
    expect(await day("2024-07-11")).toEqual([11]);
    expect(await day(Date.parse("2024-07-12T00:00:00+08:00") - 2)).toEqual([10]);
    expect(await day("2024-07-09")).toEqual([]);
    const minutes = await store.getCrossSection({ at: "2024-07-11", symbols: ["600519.SH"] });
    expect(minutes.rows.map((row) => row.bar.timestamp)).toEqual([T0]);
    expect(minutes.interval).toBe("1m");
  });

  test("bad queries are refused naming each field: at required, unknown options, symbols empty, repeated, invalid or too many, adjust's options", async () => {
    const store = await fresh();
    await store.insertBars("S", randomBars([T0], 1));
    expect(fields(await refusal(store.getCrossSection(undefined as never)))).toEqual(["at"]);
    expect(fields(await refusal(store.getCrossSection({} as never)))).toEqual(["at"]);
    expect(fields(await refusal(store.getCrossSection({ at: "soon" })))).toEqual(["at"]);
    expect(fields(await refusal(store.getCrossSection({ at: T0, adjust: "sideways" } as never)))).toEqual(["adjust"]);
    expect(fields(await refusal(store.getCrossSection({ at: T0, asOf: T0 })))).toEqual(["asOf"]);
    expect(fields(await refusal(store.getCrossSection({ at: T0, adjust: "qfq", asOf: "later" })))).toEqual(["asOf"]);
    expect(fields(await refusal(store.getCrossSection({ at: T0, symbol: ["S"] } as never)))).toEqual(["symbol"]);
    expect(fields(await refusal(store.getCrossSection({ at: T0, symbols: [] })))).toEqual(["symbols"]);
    expect(fields(await refusal(store.getCrossSection({ at: T0, symbols: "S" as never })))).toEqual(["symbols"]);
    expect(fields(await refusal(store.getCrossSection({ at: T0, symbols: ["S", "T", "S", "a b"] })))).toEqual(["symbols[2]", "symbols[3]"]);
    expect(fields(await refusal(store.getCrossSection({ at: T0, interval: "5m" as never })))).toEqual(["interval"]);
    const tooMany = Array.from({ length: 20_001 }, (_, i) => `S${i}`);
    expect(fields(await refusal(store.getCrossSection({ at: T0, symbols: tooMany })))).toEqual(["symbols"]);
    // The most allowed is answered.
    const most = await store.getCrossSection({ at: T0, symbols: tooMany.slice(0, 20_000) });
    expect([most.rows.length, most.missing.length]).toEqual([0, 20_000]);
  });

  test("a cross-section whose signal is already aborted is not started: CANCELLED", async () => {
    const store = await fresh();
    await store.insertBars("S", randomBars([T0], 1));
    const error = await store.getCrossSection({ at: T0, signal: AbortSignal.abort() }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe("CANCELLED");
    expect((await store.getCrossSection({ at: T0 })).rows).toHaveLength(1);
  });

  test("adjust: each row is its bar as getBars adjusts it (qfq, hfq, asOf, adjustVolume); a symbol with no factor known yet stays raw", async () => {
    const store = await fresh(SHANGHAI);
    // Three symbols with a bar on each of two days; ex-dates on the second day.
    const days = [Date.parse("2024-07-10T15:00:00+08:00"), Date.parse("2024-07-11T15:00:00+08:00")];
    for (const [i, symbol] of ["600036.SH", "600519.SH", "000001.SZ"].entries()) await store.insertBars(symbol, randomBars(days, i + 3));
    await store.adjustments.insert("600036.SH", [{ date: "2024-07-11", factor: 1.25, knownAt: "2024-07-10T18:00:00+08:00" }]);
    // Known only later: a snapshot as of the 10th evening does not see it.
    await store.adjustments.insert("600519.SH", [{ date: "2024-07-11", factor: 2, knownAt: "2024-07-12T09:00:00+08:00" }]);
    const symbols = ["600036.SH", "600519.SH", "000001.SZ"];
    for (const query of [
      { adjust: "qfq" as const, at: days[0]! },
      { adjust: "hfq" as const, at: days[1]! },
      { adjust: "qfq" as const, at: days[0]!, asOf: "2024-07-10T20:00:00+08:00" },
      { adjust: "hfq" as const, at: days[1]!, asOf: "2024-07-12T12:00:00+08:00", adjustVolume: true },
    ]) {
      const section = await store.getCrossSection({ ...query, symbols });
      expect(section.rows.map((row) => row.symbol)).toEqual(["000001.SZ", "600036.SH", "600519.SH"]);
      for (const row of section.rows) {
        const knownAt = Date.parse(String(query.asOf ?? new Date().toISOString()));
        const anyKnown = (await store.adjustments.list(row.symbol)).some((factor) => factor.knownAt <= knownAt);
        const { at, ...adjustment } = query;
        const [expected] = await store.getBars(row.symbol, { end: at, order: "desc", limit: 1, ...(anyKnown ? adjustment : {}) });
        expect({ symbol: row.symbol, bar: row.bar }).toEqual({ symbol: row.symbol, bar: expected! });
      }
    }
    // qfq as of now: 600036's day before its ex-date is divided by 1.25.
    const raw = await store.getCrossSection({ at: days[0]!, symbols: ["600036.SH"] });
    const qfq = await store.getCrossSection({ at: days[0]!, symbols: ["600036.SH"], adjust: "qfq" });
    expect(qfq.rows[0]!.bar.close).toBeCloseTo(raw.rows[0]!.bar.close! / 1.25, 10);
  });
}
