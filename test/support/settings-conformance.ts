/**
 * The conformance cases of the settings a database remembers (zone, bar stamping, calendar), the
 * one date rule and the epoch-seconds refusal: run by storeConformance on every backend.
 * `reopen` opens another store on the same database (absent for :memory:, whose cases that need
 * a second opening are skipped).
 */
import { describe, expect, test } from "bun:test";
import { ValidationError, type Bar, type Store } from "../../src/mod.ts";
import type { StoreFactoryOptions } from "./conformance.ts";

export type Reopen = (store: Store, options?: StoreFactoryOptions) => Promise<Store>;

const MINUTE = 60_000;

async function refusal(promise: Promise<unknown>): Promise<ValidationError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

/** One bar a minute from `start` (epoch ms) for `count` minutes. */
function everyMinute(start: number, count: number): Bar[] {
  return Array.from({ length: count }, (_, i) => ({ timestamp: start + i * MINUTE, open: 10, high: 11, low: 9, close: 10.5, volume: 100, amount: 1050 }));
}

export function settingsConformance(fresh: (options?: StoreFactoryOptions) => Promise<Store>, reopen: Reopen | undefined, closeLater: (store: Store) => void): void {
  const again = async (store: Store, options?: StoreFactoryOptions): Promise<Store> => {
    const opened = await reopen!(store, options);
    closeLater(opened);
    return opened;
  };

  describe("settings the database remembers", () => {
    test("a new database stores UTC / start / no calendar by default, and the options it is created with", async () => {
      const plain = await fresh();
      expect([plain.timezone, plain.barTimestamp, plain.calendar]).toEqual(["UTC", "start", null]);
      const shanghai = await fresh({ timezone: "Asia/Shanghai", barTimestamp: "end", calendar: "XSHG" });
      expect([shanghai.timezone, shanghai.barTimestamp, shanghai.calendar]).toEqual(["Asia/Shanghai", "end", "XSHG"]);
    });

    test.skipIf(!reopen)("reopened without options, the store reads its settings from the database", async () => {
      const created = await fresh({ timezone: "Asia/Shanghai", barTimestamp: "end", calendar: "XSHG" });
      await created.close();
      const reopened = await again(created);
      expect([reopened.timezone, reopened.barTimestamp, reopened.calendar]).toEqual(["Asia/Shanghai", "end", "XSHG"]);
      // Naive times are read in the stored zone without being told it.
      await reopened.insertBars("S", [{ timestamp: "2024-01-15 09:31", open: 1, high: 1, low: 1, close: 1 }]);
      expect((await reopened.getBars("S"))[0]!.timestamp).toBe(Date.UTC(2024, 0, 15, 1, 31));
    });

    test.skipIf(!reopen)("an opening option that contradicts the stored value is refused, naming both values", async () => {
      const created = await fresh({ timezone: "Asia/Shanghai", barTimestamp: "end" });
      await created.close();
      const error = await refusal(again(created, { timezone: "UTC" }));
      expect(error.issues).toEqual([{ field: "timezone", message: "the database stores Asia/Shanghai, the option says UTC" }]);
      expect(error.message).toContain("timezone: the database stores Asia/Shanghai, the option says UTC");
      const both = await refusal(again(created, { barTimestamp: "start", calendar: "XSHE" }));
      expect(both.issues.map((issue) => issue.message)).toEqual(["the database stores end, the option says start", "the database stores none, the option says XSHE"]);
      // The same values are fine, and creation defaults are never compared.
      const same = await again(created, { timezone: "Asia/Shanghai", initialSettings: { timezone: "Europe/London", barTimestamp: "start" } });
      expect([same.timezone, same.barTimestamp]).toEqual(["Asia/Shanghai", "end"]);
    });

    test("initialSettings are what a new database stores where the options say nothing", async () => {
      const store = await fresh({ barTimestamp: "end", initialSettings: { timezone: "America/New_York", barTimestamp: "start" } });
      expect([store.timezone, store.barTimestamp]).toEqual(["America/New_York", "end"]);
    });

    test("updateSettings changes a setting, one audit entry each naming old and new, seen by views and by the next opening", async () => {
      const store = await fresh({ timezone: "Asia/Shanghai" });
      const alice = store.withActor("alice");
      const now = await alice.updateSettings({ timezone: "America/New_York", calendar: "XSHE" });
      expect(now).toEqual({ timezone: "America/New_York", barTimestamp: "start", calendar: "XSHE", normalizeSymbols: false });
      expect([store.timezone, alice.timezone, store.calendar]).toEqual(["America/New_York", "America/New_York", "XSHE"]);
      const entries = await store.audit.query({ action: "settings.set" });
      expect(entries.map((entry) => [entry.actor, entry.entity, entry.details])).toEqual([
        ["alice", "timezone", { from: "Asia/Shanghai", to: "America/New_York" }],
        ["alice", "calendar", { from: null, to: "XSHE" }],
      ]);
      // A value equal to the stored one is no change and writes no entry.
      await store.updateSettings({ timezone: "America/New_York" });
      expect(await store.audit.query({ action: "settings.set" })).toHaveLength(2);
      // Reads use the new zone at once (a date bound is a New York day now) ...
      await store.insertBars("S", everyMinute(Date.UTC(2024, 0, 15, 4, 59), 2)); // 23:59 and 00:00 New York
      expect((await store.getBars("S", { start: "2024-01-15" })).map((bar) => bar.timestamp)).toEqual([Date.UTC(2024, 0, 15, 5, 0)]);
      // ... and a calendar can be cleared.
      expect((await store.updateSettings({ calendar: null })).calendar).toBeNull();
      if (reopen) {
        await store.close();
        const reopened = await again(store);
        expect([reopened.timezone, reopened.calendar]).toEqual(["America/New_York", null]);
      }
    });

    test("a change of bar stamping is refused while bars are stored (nothing changes), and allowed on an empty database", async () => {
      const store = await fresh({ barTimestamp: "start" });
      expect((await store.updateSettings({ barTimestamp: "end" })).barTimestamp).toBe("end");
      await store.insertBars("S", everyMinute(Date.UTC(2024, 0, 15, 1, 31), 3));
      const error = await refusal(store.updateSettings({ barTimestamp: "start", timezone: "Asia/Shanghai" }));
      expect(error.issues[0]!.field).toBe("barTimestamp");
      expect(error.issues[0]!.message).toContain("3 bars are stored");
      expect(error.issues[0]!.message).toContain("--restamp 1m");
      // All or nothing: the zone named in the same call did not change either.
      expect([store.barTimestamp, store.timezone]).toEqual(["end", "UTC"]);
      expect((await store.audit.query({ action: "settings.set" })).map((entry) => entry.details)).toEqual([{ from: "start", to: "end" }]);
    });

    test("restamp moves every stored bar by its interval in the change's transaction: the same minutes, one audit entry", async () => {
      const store = await fresh({ timezone: "Asia/Shanghai", barTimestamp: "start" });
      // Consecutive minutes: moving any one of them by a minute lands on its neighbour's key.
      const open = Date.UTC(2024, 0, 15, 1, 30); // 09:30 Shanghai, start-stamped
      const bars = everyMinute(open, 10).map((bar, i) => ({ ...bar, high: 20, close: 10 + i, volume: 100 + i }));
      await store.insertBars("A", bars);
      await store.insertBars("B", bars.slice(0, 4));
      await store.insertBars("A", [{ timestamp: "2024-01-15", open: 9, high: 12, low: 8, close: 11, volume: 5000 }], { interval: "1d" });
      const fiveBefore = await store.getBars("A", { interval: "5m" });
      const entriesBefore = (await store.audit.query()).length;

      const after = await store.withActor("ops").updateSettings({ barTimestamp: "end" }, { restamp: "1m" });
      expect(after.barTimestamp).toBe("end");
      const moved = await store.getBars("A");
      expect(moved.map((bar) => bar.timestamp)).toEqual(bars.map((bar) => bar.timestamp + MINUTE));
      expect(moved.map((bar) => [bar.close, bar.volume])).toEqual(bars.map((bar) => [bar.close, bar.volume]));
      expect((await store.getBars("B")).map((bar) => bar.timestamp)).toEqual(bars.slice(0, 4).map((bar) => bar.timestamp + MINUTE));
      // The same minutes: five-minute buckets hold the same bars, stamped at their end now.
      const fiveAfter = await store.getBars("A", { interval: "5m" });
      expect(fiveAfter.map((bar) => bar.timestamp)).toEqual(fiveBefore.map((bar) => bar.timestamp + 5 * MINUTE));
      expect(fiveAfter.map(({ open, high, low, close, volume }) => [open, high, low, close, volume])).toEqual(
        fiveBefore.map(({ open, high, low, close, volume }) => [open, high, low, close, volume]),
      );
      // Stored daily bars are stamped at midnight in both stampings: they stay.
      expect((await store.getBars("A", { interval: "1d", source: "stored" })).map((bar) => [bar.timestamp, bar.close])).toEqual([[Date.UTC(2024, 0, 14, 16), 11]]);
      // One audit entry, which says what moved.
      const entries = await store.audit.query();
      expect(entries).toHaveLength(entriesBefore + 1);
      expect([entries.at(-1)!.actor, entries.at(-1)!.action, entries.at(-1)!.entity, entries.at(-1)!.details]).toEqual([
        "ops",
        "settings.set",
        "bar_timestamp",
        { from: "start", to: "end", restamped: { interval: "1m", shiftMs: MINUTE, bars: 14 } },
      ]);
      expect(await store.audit.verify()).toEqual({ ok: true, checked: entries.length });

      // Back to start with five-minute bars: earlier by five minutes; a repeat is no change.
      await store.updateSettings({ barTimestamp: "start" }, { restamp: "5m" });
      expect((await store.getBars("B")).map((bar) => bar.timestamp)).toEqual(bars.slice(0, 4).map((bar) => bar.timestamp - 4 * MINUTE));
      await store.updateSettings({ barTimestamp: "start" }, { restamp: "5m" });
      expect((await store.getBars("B"))[0]!.timestamp).toBe(open - 4 * MINUTE);
      expect(await store.audit.query({ action: "settings.set" })).toHaveLength(2);
      if (reopen) {
        await store.close();
        const reopened = await again(store);
        expect([reopened.barTimestamp, (await reopened.getBars("A"))[0]!.timestamp]).toEqual(["start", open - 4 * MINUTE]);
      }
    });

    test("restamp is refused without a stamping change, with an interval it cannot move by, or past the last storable instant", async () => {
      const store = await fresh({ barTimestamp: "start" });
      const last = 253_402_300_799_999 - 30_000; // 30 s before the last storable instant
      await store.insertBars("S", [...everyMinute(Date.UTC(2024, 0, 15, 1, 30), 2), { timestamp: last, open: 1, high: 1, low: 1, close: 1 }]);
      expect((await refusal(store.updateSettings({ timezone: "Asia/Shanghai" }, { restamp: "1m" }))).issues).toEqual([
        { field: "restamp", message: "re-stamps bars for a change of barTimestamp; the change names none" },
      ]);
      for (const interval of ["1d", "1w", "3m", 60_000]) {
        const error = await refusal(store.updateSettings({ barTimestamp: "end" }, { restamp: interval as "1m" }));
        expect(error.issues[0]!.field).toBe("restamp");
        expect(error.issues[0]!.message).toContain("1m, 5m, 15m, 30m, 1h, 2h");
      }
      expect((await refusal(store.updateSettings({ barTimestamp: "end" }, { shift: "1m" } as never))).issues[0]!.field).toBe("shift");
      const beyond = await refusal(store.updateSettings({ barTimestamp: "end" }, { restamp: "1m" }));
      expect(beyond.issues).toEqual([{ field: "restamp", message: `the bar at ${last} would move past the latest storable timestamp` }]);
      // Nothing moved, nothing changed, nothing recorded.
      expect(store.barTimestamp).toBe("start");
      expect((await store.getBars("S")).map((bar) => bar.timestamp)).toEqual([Date.UTC(2024, 0, 15, 1, 30), Date.UTC(2024, 0, 15, 1, 31), last]);
      expect(await store.audit.query({ action: "settings.set" })).toEqual([]);
    });

    test("bad settings are refused naming the setting", async () => {
      const store = await fresh();
      expect((await refusal(store.updateSettings({ timezone: "Mars/Olympus" }))).issues[0]!.field).toBe("timezone");
      expect((await refusal(store.updateSettings({ calendar: "no spaces" }))).issues[0]!.field).toBe("calendar");
      expect((await refusal(store.updateSettings({ barTimestamp: "middle" as "end" }))).issues[0]!.field).toBe("barTimestamp");
      expect((await refusal(store.updateSettings({ tz: "UTC" } as never))).issues[0]!.field).toBe("tz");
      expect([store.timezone, store.barTimestamp, store.calendar]).toEqual(["UTC", "start", null]);
    });
  });

  describe("one date rule: a date alone is a day in the stored zone, the whole day as end", () => {
    // Bars at the last minute of the day before, every minute edge of the day, and the first of the next.
    async function dayEdges(timezone: string, dayStartUtc: number, dayEndUtc: number): Promise<{ store: Store; inside: number[] }> {
      const store = await fresh({ timezone });
      const stamps = [dayStartUtc - MINUTE, dayStartUtc, dayStartUtc + MINUTE, dayEndUtc - MINUTE, dayEndUtc - 1, dayEndUtc];
      await store.insertBars("S", stamps.map((timestamp) => ({ timestamp, open: 1, high: 1, low: 1, close: 1 })));
      return { store, inside: stamps.slice(1, 5) };
    }

    const cases = [
      // 2024-01-15 in Shanghai: 2024-01-14T16:00Z to 2024-01-15T16:00Z.
      { timezone: "Asia/Shanghai", day: "2024-01-15", compact: "20240115", start: Date.UTC(2024, 0, 14, 16), end: Date.UTC(2024, 0, 15, 16) },
      // 2024-03-10 in New York is 23 hours long (clocks go forward at 02:00): 05:00Z to 04:00Z.
      { timezone: "America/New_York", day: "2024-03-10", compact: "20240310", start: Date.UTC(2024, 2, 10, 5), end: Date.UTC(2024, 2, 11, 4) },
      // 2024-11-03 in New York is 25 hours long: 04:00Z to 05:00Z the next day.
      { timezone: "America/New_York", day: "2024-11-03", compact: "20241103", start: Date.UTC(2024, 10, 3, 4), end: Date.UTC(2024, 10, 4, 5) },
    ];

    for (const { timezone, day, compact, start, end } of cases) {
      test(`${day} and ${compact} in ${timezone}: getBars, iterateBars, deleteBars and getQuotes read the same day`, async () => {
        const { store, inside } = await dayEdges(timezone, start, end);
        for (const text of [day, compact]) {
          const got = await store.getBars("S", { start: text, end: text });
          expect(got.map((bar) => bar.timestamp)).toEqual(inside);
          const streamed: number[] = [];
          for await (const bar of store.iterateBars("S", { start: text, end: text })) streamed.push(bar.timestamp);
          expect(streamed).toEqual(inside);
          // As start alone: from the day's first instant; as end alone: through its last ms.
          expect((await store.getBars("S", { start: text }))[0]!.timestamp).toBe(start);
          expect((await store.getBars("S", { end: text })).at(-1)!.timestamp).toBe(end - 1);
        }
        await store.insertQuotes("S", [{ timestamp: start - 1, bid: 1 }, { timestamp: end - 1, bid: 2 }, { timestamp: end, bid: 3 }]);
        expect((await store.getQuotes("S", { start: compact, end: day })).map((quote) => quote.bid)).toEqual([2]);
        expect(await store.deleteBars("S", { start: compact, end: compact })).toBe(4);
        expect((await store.getBars("S")).map((bar) => bar.timestamp)).toEqual([start - MINUTE, end]);
      });
    }

    test("the audit log's since/until read dates by the same rule", async () => {
      const store = await fresh({ timezone: "Asia/Shanghai" });
      await store.prefs.set("k", 1);
      const [entry] = await store.audit.query();
      const today = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(entry!.timestamp);
      expect(await store.audit.query({ since: today, until: today })).toEqual([entry!]);
      expect(await store.audit.query({ until: today.replaceAll("-", "") })).toEqual([entry!]);
    });
  });

  describe("numbers that look like epoch seconds", () => {
    test("a timestamp from 1e8 to 1e11 is refused with the row and field, saying multiply by 1000", async () => {
      const store = await fresh();
      const error = await refusal(store.insertBars("S", [{ timestamp: 99_999_999, open: 1 }, { timestamp: 1_705_282_260, open: 1 }]));
      expect(error.issues).toEqual([{ row: 1, field: "timestamp", message: expect.stringContaining("multiply by 1000") }]);
      const columns = await refusal(store.insertBars("S", { timestamp: Float64Array.of(1e8), open: [1] }));
      expect(columns.issues[0]).toMatchObject({ row: 0, field: "timestamp" });
      const quote = await refusal(store.insertQuotes("S", [{ timestamp: 1_705_282_260_0, bid: 1 }]));
      expect(quote.issues[0]!.message).toContain("multiply by 1000");
      const bound = await refusal(store.getBars("S", { start: 1_705_282_260 }));
      expect(bound.issues[0]).toMatchObject({ field: "start", message: expect.stringContaining("multiply by 1000") });
      // Below 1e8 and from 1e11 on numbers are epoch ms as ever; nothing of the refused batches was written.
      expect(await store.insertBars("S", [{ timestamp: 99_999_999, open: 1 }, { timestamp: 1e11, open: 1 }])).toBe(2);
      expect((await store.getBars("S")).map((bar) => bar.timestamp)).toEqual([99_999_999, 1e11]);
    });

    test("allowSecondsLikeTimestamps opts in: such numbers are stored as the epoch ms they are", async () => {
      const store = await fresh({ allowSecondsLikeTimestamps: true });
      expect(await store.insertBars("S", [{ timestamp: 1_705_282_260, open: 1 }])).toBe(1);
      expect((await store.getBars("S", { start: 1e8, end: 1e11 - 1 })).map((bar) => bar.timestamp)).toEqual([1_705_282_260]);
      expect(await store.insertQuotes("S", { timestamp: [2e8], bid: [1] })).toBe(1);
    });
  });
}
