/**
 * overview() against a model of what is stored, on every backend: it reads the summary the
 * backends keep per symbol and series (src/sqlite/summary.ts, src/postgres/summary.ts), so every
 * write path must leave it exact: inserts, upserts of stored timestamps, range deletes, daily
 * bars, a restamp, and any random sequence of them (fast-check).
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import type { Store, SymbolOverview } from "../../src/mod.ts";
import { randomBars } from "./bars.ts";
import type { StoreFactory } from "./conformance.ts";

const MINUTE = 60_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 2, 1, 31);
const D0 = Date.UTC(2024, 0, 2);

/** What a store holds, as timestamps per symbol and series. */
export class StoredModel {
  readonly minutes = new Map<string, Set<number>>();
  readonly daily = new Map<string, Set<number>>();

  add(series: "minutes" | "daily", symbol: string, timestamps: readonly number[]): void {
    const map = this[series];
    const set = map.get(symbol) ?? new Set<number>();
    for (const timestamp of timestamps) set.add(timestamp);
    map.set(symbol, set);
  }

  remove(series: "minutes" | "daily", symbol: string, start: number, end: number): void {
    const set = this[series].get(symbol);
    if (!set) return;
    for (const timestamp of [...set]) if (timestamp >= start && timestamp <= end) set.delete(timestamp);
    if (set.size === 0) this[series].delete(symbol);
  }

  shift(ms: number): void {
    for (const [symbol, set] of this.minutes) this.minutes.set(symbol, new Set([...set].map((timestamp) => timestamp + ms)));
  }

  /** The overview a full recount gives (ASCII symbols: code point order is `<`). */
  overview(): SymbolOverview[] {
    const symbols = [...new Set([...this.minutes.keys(), ...this.daily.keys()])].sort();
    return symbols.map((symbol) => {
      const minutes = [...(this.minutes.get(symbol) ?? [])];
      const row: SymbolOverview = {
        symbol,
        count: minutes.length,
        start: minutes.length ? Math.min(...minutes) : null,
        end: minutes.length ? Math.max(...minutes) : null,
      };
      const days = [...(this.daily.get(symbol) ?? [])];
      if (days.length) row.daily = { count: days.length, start: Math.min(...days), end: Math.max(...days) };
      return row;
    });
  }
}

const minuteStamps = (offsets: readonly number[]) => offsets.map((offset) => T0 + offset * MINUTE);
const dayStamps = (offsets: readonly number[]) => offsets.map((offset) => D0 + offset * DAY);

type Command =
  | { kind: "insert"; symbol: string; offsets: number[] }
  | { kind: "delete"; symbol: string; from: number; to: number }
  | { kind: "insertDaily"; symbol: string; offsets: number[] }
  | { kind: "deleteDaily"; symbol: string; from: number; to: number };

async function apply(store: Store, model: StoredModel, command: Command): Promise<void> {
  if (command.kind === "insert" || command.kind === "insertDaily") {
    const daily = command.kind === "insertDaily";
    const stamps = (daily ? dayStamps : minuteStamps)(command.offsets);
    await store.insertBars(command.symbol, randomBars(stamps, command.offsets.length), daily ? { interval: "1d" } : undefined);
    model.add(daily ? "daily" : "minutes", command.symbol, stamps);
  } else {
    const daily = command.kind === "deleteDaily";
    const [start, end] = (daily ? dayStamps : minuteStamps)([command.from, command.to]) as [number, number];
    await store.deleteBars(command.symbol, { start, end }, daily ? { interval: "1d" } : undefined);
    model.remove(daily ? "daily" : "minutes", command.symbol, start, end);
  }
}

export function summaryConformance(fresh: StoreFactory): void {
  test("overview follows inserts, upserts of stored timestamps (the count does not grow), range deletes, daily bars and a restamp", async () => {
    const store = await fresh();
    const model = new StoredModel();
    const offsets = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);
    const steps: Command[] = [
      { kind: "insert", symbol: "600519.SH", offsets: offsets(0, 240) },
      { kind: "insert", symbol: "600519.SH", offsets: offsets(100, 240) },
      { kind: "insert", symbol: "600519.SH", offsets: offsets(0, 240) },
      { kind: "insert", symbol: "000001.SZ", offsets: [5, 3, 9] },
      { kind: "delete", symbol: "600519.SH", from: 0, to: 9 },
      { kind: "delete", symbol: "600519.SH", from: 300, to: 400 },
      { kind: "delete", symbol: "600519.SH", from: 50, to: 60 },
      { kind: "insertDaily", symbol: "000001.SZ", offsets: [0, 1, 2] },
      { kind: "insertDaily", symbol: "510300.SH", offsets: [7] },
      { kind: "deleteDaily", symbol: "000001.SZ", from: 0, to: 0 },
      { kind: "delete", symbol: "000001.SZ", from: 0, to: 1_000 },
    ];
    for (const step of steps) {
      await apply(store, model, step);
      expect(await store.overview()).toEqual(model.overview());
    }
    expect(model.overview().find((row) => row.symbol === "600519.SH")?.count).toBe(340 - 10 - 40 - 11);
    await store.updateSettings({ barTimestamp: "end" }, { restamp: "1m" });
    model.shift(MINUTE);
    expect(await store.overview()).toEqual(model.overview());
    await store.deleteBars("600519.SH");
    model.remove("minutes", "600519.SH", -Infinity, Infinity);
    expect(await store.overview()).toEqual(model.overview());
  });

  test("overview equals a recount of what is stored after any sequence of inserts, upserts and deletes (fast-check)", async () => {
    const symbol = fc.constantFrom("A", "B", "C");
    const offsets = fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 30 });
    const range = fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 })).map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const);
    const command: fc.Arbitrary<Command> = fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant("insert" as const), symbol, offsets }) },
      { weight: 2, arbitrary: fc.tuple(symbol, range).map(([s, [from, to]]) => ({ kind: "delete" as const, symbol: s, from, to })) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("insertDaily" as const), symbol, offsets }) },
      { weight: 1, arbitrary: fc.tuple(symbol, range).map(([s, [from, to]]) => ({ kind: "deleteDaily" as const, symbol: s, from, to })) },
    );
    // One store for every run (a fresh PostgreSQL database each would take most of the time),
    // emptied through deleteBars first.
    const store = await fresh();
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 8 }), async (commands) => {
        for (const each of ["A", "B", "C"]) {
          await store.deleteBars(each);
          await store.deleteBars(each, undefined, { interval: "1d" });
        }
        expect(await store.overview()).toEqual([]);
        const model = new StoredModel();
        for (const each of commands) {
          await apply(store, model, each);
          expect(await store.overview()).toEqual(model.overview());
        }
      }),
      { numRuns: 20 },
    );
  });
}
