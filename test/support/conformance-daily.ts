/**
 * Daily bars beside minute bars, through the Store interface: part of the conformance suite
 * (test/support/conformance.ts calls it), so every backend answers the same.
 */
import { expect, test } from "bun:test";
import { dailyDifferences, ValidationError, type Bar, type Store } from "../../src/mod.ts";
import { sessionBars } from "./bars.ts";
import type { StoreFactoryOptions } from "./conformance.ts";

const SHANGHAI = { timezone: "Asia/Shanghai", barTimestamp: "end" } as const;
const HOUR = 3_600_000;

/** The local date (Asia/Shanghai) of a timestamp. */
function shanghaiDate(ms: number): string {
  return new Date(ms + 8 * HOUR).toISOString().slice(0, 10);
}

/** A daily bar for `date` (a date string: the store reads it as the local midnight). */
function day(date: string, close: number, volume = 1_000_000): { timestamp: string; open: number; high: number; low: number; close: number; volume: number; amount: number } {
  return { timestamp: date, open: close - 1, high: close + 1, low: close - 2, close, volume, amount: volume * close };
}

async function refusal(promise: Promise<unknown>): Promise<ValidationError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

export function dailySeriesConformance(fresh: (options?: StoreFactoryOptions) => Promise<Store>): void {
  test("daily and minute bars of one symbol coexist: a write or delete of one series leaves the other as it was", async () => {
    const store = await fresh(SHANGHAI);
    const minutes = sessionBars(3, 21);
    await store.insertBars("600519.SH", minutes);
    const dates = [...new Set(minutes.map((bar) => shanghaiDate(bar.timestamp - 1)))];
    expect(await store.insertBars("600519.SH", dates.map((date, i) => day(date, 100 + i)), { interval: "1d" })).toBe(3);
    expect(await store.getBars("600519.SH")).toEqual(minutes);
    expect(await store.latestBar("600519.SH")).toEqual(minutes[minutes.length - 1]!);
    const stored = await store.getBars("600519.SH", { interval: "1d", source: "stored" });
    expect(stored.map((bar) => [shanghaiDate(bar.timestamp), bar.close])).toEqual(dates.map((date, i) => [date, 100 + i]));
    // Stamped at the local midnight of the date.
    expect(stored[0]!.timestamp).toBe(Date.parse(`${dates[0]}T00:00:00+08:00`));

    // Deleting every daily bar leaves the minutes; deleting the minutes leaves the days.
    expect(await store.deleteBars("600519.SH", { start: dates[0], end: dates[0] }, { interval: "1d" })).toBe(1);
    expect(await store.getBars("600519.SH")).toEqual(minutes);
    expect(await store.deleteBars("600519.SH", undefined)).toBe(minutes.length);
    expect(await store.getBars("600519.SH", { interval: "1d", source: "stored" })).toEqual(stored.slice(1));
    expect(await store.getBars("600519.SH", { interval: "1d" })).toEqual(stored.slice(1));
  });

  test("a 1d read merges stored days over days from minutes; source: stored and minutes force one side", async () => {
    const store = await fresh(SHANGHAI);
    const minutes = sessionBars(4, 22);
    await store.insertBars("000001.SZ", minutes);
    const fromMinutes = await store.getBars("000001.SZ", { interval: "1d" });
    expect(fromMinutes).toHaveLength(4);
    const dates = fromMinutes.map((bar) => shanghaiDate(bar.timestamp));
    // A stored day over the second date, and one on a date without minutes.
    await store.insertBars("000001.SZ", [day(dates[1]!, 55), day("2024-02-01", 66)], { interval: "1d" });
    const [storedOver, storedAlone] = await store.getBars("000001.SZ", { interval: "1d", source: "stored" });
    const merged = [fromMinutes[0]!, storedOver!, fromMinutes[2]!, fromMinutes[3]!, storedAlone!];
    expect(await store.getBars("000001.SZ", { interval: "1d" })).toEqual(merged);
    expect(await store.getBars("000001.SZ", { interval: "1d", source: "minutes" })).toEqual(fromMinutes);
    expect(await store.getBars("000001.SZ", { interval: "1d", order: "desc", limit: 2 })).toEqual([storedAlone!, fromMinutes[3]!]);
    expect(await store.getBars("000001.SZ", { interval: "1d", limit: 2 })).toEqual(merged.slice(0, 2));
    expect(await store.getBars("000001.SZ", { interval: "1d", start: dates[1], end: `${dates[2]} 23:59` })).toEqual([storedOver!, fromMinutes[2]!]);
    const iterated: Bar[] = [];
    for await (const bar of store.iterateBars("000001.SZ", { interval: "1d", order: "desc" })) iterated.push(bar);
    expect(iterated).toEqual([...merged].reverse());
    // Other intervals still resample the minutes only.
    expect((await store.getBars("000001.SZ", { interval: "1w" })).map((bar) => bar.volume)).toEqual([fromMinutes.reduce((sum, bar) => sum + bar.volume!, 0)]);
  });

  test("daily writes are checked: a bar off local midnight, an unknown interval option, source without 1d; nothing is written", async () => {
    const store = await fresh(SHANGHAI);
    const offMidnight = await refusal(store.insertBars("S", [day("2024-01-02", 10), { ...day("2024-01-03", 11), timestamp: "2024-01-03 15:00" }], { interval: "1d" }));
    expect(offMidnight.issues).toEqual([{ row: 1, field: "timestamp", message: expect.stringContaining("local midnight") }]);
    const interval = await refusal(store.insertBars("S", [day("2024-01-02", 10)], { interval: "1h" } as never));
    expect(interval.issues.map((issue) => issue.field)).toEqual(["interval"]);
    expect((await refusal(store.deleteBars("S", undefined, { interval: "5m" } as never))).issues.map((issue) => issue.field)).toEqual(["interval"]);
    expect((await refusal(store.insertBars("S", [day("2024-01-02", 10)], { series: "1d" } as never))).issues.map((issue) => issue.field)).toEqual(["series"]);
    // The rules of every bar apply as well.
    await refusal(store.insertBars("S", [{ ...day("2024-01-02", 10), high: 1 }], { interval: "1d" }));
    for (const query of [{ source: "stored" }, { interval: "1w", source: "stored" }, { interval: "1d", source: "vendor" }] as const) {
      expect((await refusal(store.getBars("S", query as never))).issues.map((issue) => issue.field)).toEqual(["source"]);
    }
    expect(await store.overview()).toEqual([]);
    expect(await store.audit.query({ action: "bars.insert" })).toEqual([]);
  });

  test("one audit entry per daily write or delete, naming the interval", async () => {
    const store = await fresh(SHANGHAI);
    await store.insertBars("S", [day("2024-01-02", 10), day("2024-01-03", 11)], { interval: "1d" });
    await store.deleteBars("S", { start: "2024-01-03" }, { interval: "1d" });
    const entries = await store.audit.query();
    expect(entries.map((entry) => [entry.action, (entry.details as { interval?: string }).interval])).toEqual([["bars.insert", "1d"], ["bars.delete", "1d"]]);
    expect(entries[0]!.details).toMatchObject({ rows: 2, start: Date.parse("2024-01-02T00:00:00+08:00"), end: Date.parse("2024-01-03T00:00:00+08:00") });
    expect(entries[1]!.details).toMatchObject({ deleted: 1 });
  });

  test("overview reports each stored series; a symbol with daily bars only appears with count 0", async () => {
    const store = await fresh(SHANGHAI);
    const minutes = sessionBars(2, 23);
    await store.insertBars("BOTH", minutes);
    await store.insertBars("BOTH", [day("2024-01-02", 10), day("2024-01-05", 12)], { interval: "1d" });
    await store.insertBars("DAYS", [day("1991-04-03", 5)], { interval: "1d" });
    await store.insertBars("MINS", minutes.slice(0, 10));
    expect(await store.overview()).toEqual([
      {
        symbol: "BOTH",
        count: minutes.length,
        start: minutes[0]!.timestamp,
        end: minutes[minutes.length - 1]!.timestamp,
        daily: { count: 2, start: Date.parse("2024-01-02T00:00:00+08:00"), end: Date.parse("2024-01-05T00:00:00+08:00") },
      },
      { symbol: "DAYS", count: 0, start: null, end: null, daily: { count: 1, start: Date.parse("1991-04-03T00:00:00+08:00"), end: Date.parse("1991-04-03T00:00:00+08:00") } },
      { symbol: "MINS", count: 10, start: minutes[0]!.timestamp, end: minutes[9]!.timestamp },
    ]);
  });

  test("dailyDifferences lists exactly the dates made to disagree, and dates on one side only", async () => {
    const store = await fresh(SHANGHAI);
    const minutes = sessionBars(6, 24);
    await store.insertBars("600000.SH", minutes);
    const days = await store.getBars("600000.SH", { interval: "1d", source: "minutes" });
    expect(days).toHaveLength(6);
    const daily = days.map((bar) => ({ ...bar }));
    daily[1]!.close = daily[1]!.close! + 0.01; // a price: compared exactly
    daily[2]!.volume = daily[2]!.volume! * 1.01; // 1%: beyond the 0.1% tolerance
    daily[3]!.amount = daily[3]!.amount! * 1.0005; // 0.05%: within it
    const missing = daily.splice(4, 1)[0]!; // a date with minutes only
    await store.insertBars("600000.SH", [...daily, { ...daily[0]!, timestamp: "2024-03-01" }], { interval: "1d" });
    const differences = await dailyDifferences(store, "600000.SH");
    expect(differences.map((d) => [d.date, d.present, d.fields])).toEqual([
      [shanghaiDate(days[1]!.timestamp), "both", ["close"]],
      [shanghaiDate(days[2]!.timestamp), "both", ["volume"]],
      [shanghaiDate(missing.timestamp), "minutes", []],
      ["2024-03-01", "stored", []],
    ]);
    expect(differences[0]!.stored!.close).toBe(days[1]!.close! + 0.01);
    expect(differences[0]!.minutes).toEqual(days[1]!);
    // A tighter tolerance finds the amount; a date range (whole days, either bound a date) cuts the list.
    expect((await dailyDifferences(store, "600000.SH", { tolerance: 0.0001 })).map((d) => d.fields)).toEqual([["close"], ["volume"], ["amount"], [], []]);
    const one = shanghaiDate(days[2]!.timestamp);
    expect((await dailyDifferences(store, "600000.SH", { start: one, end: one })).map((d) => d.date)).toEqual([one]);
  });
}
