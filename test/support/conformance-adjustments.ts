/**
 * Adjustment factors, corporate actions and adjusted reads through the Store interface: part of
 * the conformance suite (test/support/conformance.ts calls it), so every backend answers the same.
 */
import { expect, test } from "bun:test";
import { adjustBars, factorsFromActions, ValidationError, type Bar, type Store } from "../../src/mod.ts";
import { sessionBars } from "./bars.ts";
import type { StoreFactoryOptions } from "./conformance.ts";

const SHANGHAI = { timezone: "Asia/Shanghai", barTimestamp: "end" } as const;
const SYMBOL = "600036.SH";
const HOUR = 3_600_000;

/** The local date (Asia/Shanghai) of an end-stamped minute bar. */
function shanghaiDate(ms: number): string {
  return new Date(ms - 1 + 8 * HOUR).toISOString().slice(0, 10);
}

const midnight = (date: string) => Date.parse(`${date}T00:00:00+08:00`);

async function refusal(promise: Promise<unknown>): Promise<ValidationError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

/** A day's bars merged into one, the plain way: the reference for a 1d read of adjusted minutes. */
function dailyOf(bars: readonly Bar[]): [string, number, number, number, number][] {
  const days = new Map<string, Bar[]>();
  for (const bar of bars) {
    const date = shanghaiDate(bar.timestamp);
    days.set(date, [...(days.get(date) ?? []), bar]);
  }
  return [...days].map(([date, day]) => [
    date,
    day[0]!.open!,
    Math.max(...day.map((bar) => bar.high!)),
    Math.min(...day.map((bar) => bar.low!)),
    day[day.length - 1]!.close!,
  ]);
}

export function adjustmentConformance(fresh: (options?: StoreFactoryOptions) => Promise<Store>): void {
  test("adjustments: insert and list; knownAt defaults to the date's local midnight, source to manual; a re-import writes nothing", async () => {
    const store = await fresh(SHANGHAI);
    const rows = [
      { date: "20240102", factor: 1 },
      { date: "2024-01-04", factor: 1.25, knownAt: "2024-01-03T18:00:00+08:00", source: "tushare" },
    ];
    expect(await store.adjustments.insert(SYMBOL, rows)).toBe(2);
    const listed = await store.adjustments.list(SYMBOL);
    expect(listed).toEqual([
      { date: "2024-01-02", factor: 1, knownAt: midnight("2024-01-02"), source: "manual" },
      { date: "2024-01-04", factor: 1.25, knownAt: Date.parse("2024-01-03T10:00:00Z"), source: "tushare" },
    ]);
    expect(await store.adjustments.insert(SYMBOL, rows)).toBe(0);
    expect(await store.adjustments.list(SYMBOL)).toEqual(listed);
    expect(await store.adjustments.list("OTHER")).toEqual([]);
    const entries = (await store.audit.query({ action: "adjustments.insert" })).map((entry) => [entry.entity, entry.details]);
    expect(entries).toEqual([
      [SYMBOL, { rows: 2, written: 2 }],
      [SYMBOL, { rows: 2, written: 0 }],
    ]);
  });

  test("adjustments: bad rows and a clash with a stored row are refused naming the row; nothing is written or audited", async () => {
    const store = await fresh(SHANGHAI);
    await store.adjustments.insert(SYMBOL, [{ date: "2024-01-04", factor: 1.25 }]);
    const bad = await refusal(store.adjustments.insert(SYMBOL, [
      { date: "2024-01-05", factor: 1.3 },
      { date: "2024-02-30", factor: 0 },
    ]));
    expect(bad.issues.map((issue) => [issue.row, issue.field])).toEqual([[1, "date"], [1, "factor"]]);
    const clash = await refusal(store.adjustments.insert(SYMBOL, [{ date: "2024-01-06", factor: 2 }, { date: "2024-01-04", factor: 1.5 }]));
    expect(clash.issues).toHaveLength(1);
    expect(clash.issues[0]!.row).toBe(1);
    expect(clash.issues[0]!.message).toContain("later knownAt");
    expect((await store.adjustments.list(SYMBOL)).map((row) => row.date)).toEqual(["2024-01-04"]);
    expect(await store.audit.query({ action: "adjustments.insert" })).toHaveLength(1);
    await refusal(store.adjustments.list(SYMBOL, { asOf: "not a time" }));
    await refusal(store.getBars(SYMBOL, { adjust: "fq" as never }));
  });

  test("adjustments: point in time: a provisional factor then its correction read as of before and after the correction", async () => {
    const store = await fresh(SHANGHAI);
    const bars = sessionBars(3, 7);
    await store.insertBars(SYMBOL, bars);
    const [, exDate, lastDate] = [...new Set(bars.map((bar) => shanghaiDate(bar.timestamp)))] as [string, string, string];
    const provisional = { date: exDate, factor: 1.2, knownAt: `${exDate}T08:00:00+08:00`, source: "tushare" };
    const correction = { date: exDate, factor: 1.1, knownAt: `${lastDate}T20:00:00+08:00`, source: "tushare" };
    await store.adjustments.insert(SYMBOL, [provisional]);
    await store.adjustments.insert(SYMBOL, [correction]);
    expect((await store.adjustments.list(SYMBOL)).map((row) => row.factor)).toEqual([1.2, 1.1]);
    expect((await store.adjustments.list(SYMBOL, { asOf: `${lastDate}T12:00:00+08:00` })).map((row) => row.factor)).toEqual([1.2]);

    const before = `${lastDate}T12:00:00+08:00`;
    const after = `${lastDate}T21:00:00+08:00`;
    const factorsBefore = [{ date: exDate, factor: 1.2, knownAt: 0, source: "t" }];
    const factorsAfter = [{ date: exDate, factor: 1.1, knownAt: 0, source: "t" }];
    const hfqBefore = await store.getBars(SYMBOL, { adjust: "hfq", asOf: before });
    const hfqAfter = await store.getBars(SYMBOL, { adjust: "hfq", asOf: after });
    expect(hfqBefore).toEqual(adjustBars(bars, factorsBefore, { mode: "hfq", timeZone: "Asia/Shanghai" }));
    expect(hfqAfter).toEqual(adjustBars(bars, factorsAfter, { mode: "hfq", timeZone: "Asia/Shanghai" }));
    // The first day is before the ex-date: raw in hfq, divided by the factor in qfq.
    expect(hfqBefore[0]).toEqual(bars[0]!);
    const qfqBefore = await store.getBars(SYMBOL, { adjust: "qfq", asOf: before });
    expect(qfqBefore[0]!.close).toBeCloseTo(bars[0]!.close! / 1.2, 12);
    expect(qfqBefore[qfqBefore.length - 1]).toEqual(bars[bars.length - 1]!);
    expect((await store.getBars(SYMBOL, { adjust: "qfq", asOf: after }))[0]!.close).toBeCloseTo(bars[0]!.close! / 1.1, 12);
    // The same read today and after a later factor arrives: asOf pins it.
    await store.adjustments.insert(SYMBOL, [{ date: lastDate, factor: 3, knownAt: `${lastDate}T23:00:00+08:00` }]);
    expect(await store.getBars(SYMBOL, { adjust: "hfq", asOf: after })).toEqual(hfqAfter);
    // Before any factor became known: refused, naming asOf.
    const early = await refusal(store.getBars(SYMBOL, { adjust: "qfq", asOf: "2023-12-01" }));
    expect(early.issues[0]!.field).toBe("asOf");
    // Raw reads ignore the factors.
    expect(await store.getBars(SYMBOL)).toEqual(bars);
    expect(await store.getBars(SYMBOL, { adjust: "none" })).toEqual(bars);
  });

  test("adjusted reads: resampled bars are the resampling of adjusted minutes; iterate equals get; adjustVolume divides volume", async () => {
    const store = await fresh(SHANGHAI);
    const bars = sessionBars(4, 11);
    await store.insertBars(SYMBOL, bars);
    const dates = [...new Set(bars.map((bar) => shanghaiDate(bar.timestamp)))];
    // A whole factor (3) on the last day: a backend that scales in SQL must not divide integers.
    const factors = [{ date: dates[1]!, factor: 1.5 }, { date: dates[3]!, factor: 3 }];
    await store.adjustments.insert(SYMBOL, factors);
    const stored = await store.adjustments.list(SYMBOL);
    for (const mode of ["qfq", "hfq"] as const) {
      const expected = adjustBars(bars, stored, { mode, timeZone: "Asia/Shanghai" });
      const minutes = await store.getBars(SYMBOL, { adjust: mode });
      expect(minutes).toEqual(expected);
      const iterated: Bar[] = [];
      for await (const bar of store.iterateBars(SYMBOL, { adjust: mode, interval: "5m" })) iterated.push(bar);
      expect(iterated).toEqual(await store.getBars(SYMBOL, { adjust: mode, interval: "5m" }));
      const days = await store.getBars(SYMBOL, { adjust: mode, interval: "1d" });
      const reference = dailyOf(expected);
      expect(days.map((bar) => [shanghaiDate(bar.timestamp + 1), bar.open, bar.high, bar.low, bar.close])).toEqual(reference);
      const week = await store.getBars(SYMBOL, { adjust: mode, interval: "1w" });
      expect(week.map((bar) => [bar.open, bar.close])).toEqual([[expected[0]!.open, expected[expected.length - 1]!.close]]);
      expect(week[0]!.high).toBe(Math.max(...expected.map((bar) => bar.high!)));
      const desc = await store.getBars(SYMBOL, { adjust: mode, order: "desc", limit: 3 });
      expect(desc).toEqual(expected.slice(-3).reverse());
    }
    const withVolume = await store.getBars(SYMBOL, { adjust: "hfq", adjustVolume: true });
    expect(withVolume.at(-1)!.volume).toBe(bars.at(-1)!.volume! / 3);
    expect(withVolume.at(-1)!.amount).toBe(bars.at(-1)!.amount);
    // One-day reads (one ratio in the range: a backend may scale them in its statement) are the
    // day's share of the whole read, to the bit, with and without adjustVolume, in both orders.
    for (const adjustVolume of [false, true]) {
      for (const mode of ["qfq", "hfq"] as const) {
        const whole = adjustBars(bars, stored, { mode, timeZone: "Asia/Shanghai", adjustVolume });
        for (const date of dates) {
          const day = whole.filter((bar) => shanghaiDate(bar.timestamp) === date);
          expect(await store.getBars(SYMBOL, { start: date, end: date, adjust: mode, adjustVolume })).toEqual(day);
          expect(await store.getBars(SYMBOL, { start: date, end: date, adjust: mode, adjustVolume, order: "desc", limit: 5 })).toEqual(day.reverse().slice(0, 5));
        }
      }
    }
  });

  test("adjustments: insertActions stores the actions and reproduces factorsFromActions from the stored closes; bad input writes nothing", async () => {
    const store = await fresh(SHANGHAI);
    const days = ["2024-06-03", "2024-06-04", "2024-06-05", "2024-07-01", "2024-07-02"];
    const closes = [33.1, 33.45, 33.9, 34.2, 32.5];
    await store.insertBars(SYMBOL, days.map((date, i) => ({ timestamp: date, open: closes[i]!, high: closes[i]!, low: closes[i]!, close: closes[i]!, volume: 1 })), { interval: "1d" });
    const actions = [{ date: "2024-06-05", cash: 1.972 }, { date: "2024-07-02", bonus: 0.3, rights: 0.1, rightsPrice: 8.5 }];
    const computed = await store.adjustments.insertActions(SYMBOL, actions, { source: "tdx" });
    const expected = factorsFromActions(actions, (date) => closes[days.indexOf(date) - 1] ?? null, { source: "tdx", knownAt: 0 });
    expect(computed.map((row) => [row.date, row.factor, row.source])).toEqual(expected.map((row) => [row.date, row.factor, row.source]));
    expect(computed.map((row) => row.knownAt)).toEqual([midnight("2024-06-05"), midnight("2024-07-02")]);
    expect(await store.adjustments.list(SYMBOL)).toEqual(computed);
    expect(await store.adjustments.listActions(SYMBOL)).toEqual([
      { date: "2024-06-05", cash: 1.972, knownAt: midnight("2024-06-05"), source: "tdx" },
      { date: "2024-07-02", bonus: 0.3, rights: 0.1, rightsPrice: 8.5, knownAt: midnight("2024-07-02"), source: "tdx" },
    ]);
    // The same actions again: nothing new.
    expect(await store.adjustments.insertActions(SYMBOL, actions, { source: "tdx" })).toEqual(computed);
    expect(await store.adjustments.list(SYMBOL)).toEqual(computed);
    // qfq daily closes through the store equal the domain's.
    const daily = await store.getBars(SYMBOL, { interval: "1d", source: "stored", adjust: "qfq" });
    expect(daily.map((bar) => bar.close)).toEqual(closes.map((close, i) => close * (i >= 4 ? 1 : i >= 2 ? computed[0]!.factor / computed[1]!.factor : 1 / computed[1]!.factor)));

    // No previous close held, a negative amount, a rights price far above the close: refused, nothing written.
    const before = { factors: await store.adjustments.list(SYMBOL), actions: await store.adjustments.listActions(SYMBOL), audit: await store.audit.query() };
    const noClose = await refusal(store.adjustments.insertActions(SYMBOL, [{ date: "2024-05-01", cash: 1 }]));
    expect(noClose.issues[0]!.message).toContain("no previous close");
    await refusal(store.adjustments.insertActions(SYMBOL, [{ date: "2024-07-01", cash: -1 }]));
    await refusal(store.adjustments.insertActions(SYMBOL, [{ date: "2024-07-01", rights: 0.1, rightsPrice: 400 }]));
    await refusal(store.adjustments.insertActions(SYMBOL, [{ date: "2024-06-05", cash: 2 }], { source: "tdx", knownAt: midnight("2024-06-05") }));
    expect({ factors: await store.adjustments.list(SYMBOL), actions: await store.adjustments.listActions(SYMBOL), audit: await store.audit.query() }).toEqual(before);
    const entries = (await store.audit.query({ action: "adjustments.insertActions" })).map((entry) => entry.details);
    expect(entries).toEqual([{ actions: 2, factors: 2, written: 2 }, { actions: 2, factors: 2, written: 0 }]);
  });
}
