/**
 * Calendars on a real PostgreSQL server (src/postgres/calendars.ts) and what reads make of them,
 * as test/sqlite/calendars.test.ts proves them for a SQLite file: the shipped calendars written
 * at creation, session-aligned reads and completeness on the real Shanghai Composite file,
 * audited changes, a second store seeing a calendar another changed, a user calendar in a
 * daylight-saving zone. A fresh database for every test.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { openStore, ValidationError, type Bar, type Store } from "../../src/mod.ts";
import { shippedCalendar } from "../../src/domain/calendars/index.ts";
import { parseCalendarFile, parseSessions } from "../../src/domain/calendar.ts";
import { readTdxBars, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";
import { createTestDatabase, postgresAvailable, type TestDatabase } from "../support/postgres.ts";

const available = await postgresAvailable();
const at = (naive: string) => Date.parse(`${naive.replace(" ", "T")}+08:00`);
const wall = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 16).replace("T", " ");

const stores: Store[] = [];
const databases: TestDatabase[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const database of databases.splice(0)) await database.drop();
});

async function freshDatabase(): Promise<string> {
  const database = await createTestDatabase("calendars");
  databases.push(database);
  return database.url;
}

async function open(url: string): Promise<Store> {
  const store = await openStore({ backend: "postgres", url, max: 2, timezone: "Asia/Shanghai", barTimestamp: "end" });
  stores.push(store);
  return store;
}

async function collect(bars: AsyncIterable<Bar>): Promise<Bar[]> {
  const all: Bar[] = [];
  for await (const bar of bars) all.push(bar);
  return all;
}

const realBars = await readTdxBars(TDX_INDEX_1MIN);

describe.skipIf(!available)("calendars on PostgreSQL", () => {
  test("a new database holds the shipped XSHG and XSHE, day for day", async () => {
    const store = await open(await freshDatabase());
    expect((await store.calendars.list()).map((c) => c.name)).toEqual(["XSHE", "XSHG"]);
    for (const name of ["XSHG", "XSHE"]) {
      const shipped = shippedCalendar(name)!;
      const stored = (await store.calendars.get(name))!;
      expect(stored.days).toEqual([...shipped.days]);
      expect(stored.rules).toEqual(shipped.rules);
      expect(stored.timezone).toBe(shipped.timezone);
    }
    expect(await store.calendars.get("NOPE")).toBeNull();
  });

  test("session-aligned reads of the real 1-minute file: 4 hourly bars a day, 5m equal to the clock's to the bit", async () => {
    const store = await open(await freshDatabase());
    await store.insertBars("000001.SH", realBars);
    await store.calendars.assign("000001.SH", "XSHG");
    const hours = await store.getBars("000001.SH", { interval: "1h", align: "session" });
    expect(hours).toHaveLength(400);
    expect(hours.slice(0, 4).map((b) => wall(b.timestamp))).toEqual(["2022-12-16 10:30", "2022-12-16 11:30", "2022-12-16 14:00", "2022-12-16 15:00"]);
    // A-share sessions open on 5-minute marks, so the clock's 5m buckets (tradelite_ksum in SQL)
    // are the session's (the domain's compensated sum over stored bars): equal to the bit.
    expect(await store.getBars("000001.SH", { interval: "5m", align: "session" })).toEqual(await store.getBars("000001.SH", { interval: "5m" }));
    expect(await store.getBars("000001.SH", { interval: "1d", align: "session" })).toEqual(await store.getBars("000001.SH", { interval: "1d" }));
    const iterated = await collect(store.iterateBars("000001.SH", { interval: "30m", align: "session", order: "desc", limit: 3 }));
    expect(iterated.map((b) => wall(b.timestamp))).toEqual(["2023-05-18 15:00", "2023-05-18 14:30", "2023-05-18 14:00"]);
  });

  test("a symbol with no calendar: a session read and completeness name the fix", async () => {
    const store = await open(await freshDatabase());
    await store.insertBars("X", [{ timestamp: at("2024-01-02 09:31"), close: 1 }]);
    await expect(store.getBars("X", { interval: "1h", align: "session" })).rejects.toThrow(/tradelite settings set calendar/);
    await expect(collect(store.iterateBars("X", { interval: "1h", align: "session" }))).rejects.toThrow(/tradelite settings set calendar/);
    await expect(store.completeness("X")).rejects.toBeInstanceOf(ValidationError);
    await expect(store.calendars.assign("X", "NOPE")).rejects.toBeInstanceOf(ValidationError);
    expect(await store.calendars.of("X")).toBeNull();
  });

  test("completeness finds exactly the minutes deleted", async () => {
    const store = await open(await freshDatabase());
    await store.insertBars("000001.SH", realBars);
    await store.calendars.assign("000001.SH", "XSHG");
    expect((await store.completeness("000001.SH")).days.every((d) => d.present === 240)).toBe(true);
    await store.deleteBars("000001.SH", { start: at("2023-03-01 10:00"), end: at("2023-03-01 10:09") });
    await store.deleteBars("000001.SH", { start: at("2023-03-02 00:00"), end: at("2023-03-02 23:59") });
    const report = await store.completeness("000001.SH", { start: at("2023-03-01 00:00"), end: at("2023-03-03 23:59") });
    expect(report.calendar).toBe("XSHG");
    expect(report.days.map((d) => [d.date, d.present, d.missing.map((r) => `${wall(r.start)}..${wall(r.end)}`)])).toEqual([
      ["2023-03-01", 230, ["2023-03-01 10:00..2023-03-01 10:09"]],
      ["2023-03-02", 0, ["2023-03-02 09:31..2023-03-02 11:30", "2023-03-02 13:01..2023-03-02 15:00"]],
      ["2023-03-03", 240, []],
    ]);
  });

  test("replacing a year is audited and seen by a second store, reads included; bad rows change nothing", async () => {
    const url = await freshDatabase();
    const store = await open(url);
    const other = await open(url);
    expect((await other.calendars.get("XSHG"))!.days.includes("2026-12-31")).toBe(true);
    // The second store has built XSHG and resolved the symbol before the change.
    await store.calendars.assign("600000.SH", "XSHG");
    await store.insertBars("600000.SH", [{ timestamp: at("2026-12-29 09:31"), close: 1 }]);
    expect((await other.completeness("600000.SH")).nonTradingDays).toEqual([]);

    const days = parseCalendarFile("date,sessions\n2026-12-30,\n2026-12-31,09:30-11:30\n");
    await store.withActor("ops").calendars.replaceYear("XSHG", 2026, days);
    const seen = (await other.calendars.get("XSHG"))!;
    expect(seen.days.filter((d) => d.startsWith("2026"))).toEqual(["2026-12-30", "2026-12-31"]);
    expect(seen.exceptions!["2026-12-31"]).toEqual(parseSessions("09:30-11:30"));
    expect((await other.completeness("600000.SH")).nonTradingDays).toEqual(["2026-12-29"]);
    expect((await other.calendars.list()).find((c) => c.name === "XSHG")!.days).toBe(shippedCalendar("XSHG")!.days.length - shippedCalendar("XSHG")!.days.filter((d) => d.startsWith("2026")).length + 2);

    // A symbol the second store has never looked up: its iteration refreshes before the first bar.
    await store.insertBars("600001.SH", [{ timestamp: at("2026-12-30 09:31"), close: 1 }]);
    await store.calendars.assign("600001.SH", "XSHG");
    expect((await collect(other.iterateBars("600001.SH", { interval: "1h", align: "session" }))).map((b) => wall(b.timestamp))).toEqual(["2026-12-30 10:30"]);

    const entries = await store.audit.query({ action: "calendar.replace_year" });
    expect(entries.map((e) => [e.actor, e.entity, e.details])).toEqual([["ops", "XSHG", { year: 2026, days: 2 }]]);
    expect((await store.audit.query({ action: "calendar.assign" })).map((e) => [e.actor, e.entity, e.details])).toEqual([
      ["tradelite", "600000.SH", { calendar: "XSHG" }],
      ["tradelite", "600001.SH", { calendar: "XSHG" }],
    ]);
    await expect(store.calendars.replaceYear("XSHG", 2025, [{ date: "2024-12-31" }])).rejects.toThrow(/outside 2025/);
    await expect(store.calendars.replaceYear("NOPE", 2025, [])).rejects.toThrow(/no calendar named "NOPE"/);
    expect((await store.calendars.get("XSHG"))!.days.filter((d) => d.startsWith("2025")).length).toBe(shippedCalendar("XSHG")!.days.filter((d) => d.startsWith("2025")).length);
    expect(await store.audit.verify()).toMatchObject({ ok: true });
  });

  test("a user calendar (US equities, New York) works as the shipped ones do", async () => {
    const store = await open(await freshDatabase());
    const summary = await store.calendars.put({ name: "US-EQ", timezone: "America/New_York", days: ["2024-03-08", "2024-03-11"], rules: [{ from: "2024-01-01", sessions: parseSessions("09:30-16:00") }] });
    expect(summary).toEqual({ name: "US-EQ", timezone: "America/New_York", first: "2024-03-08", last: "2024-03-11", days: 2 });
    await store.calendars.assign("SPY", "US-EQ");
    expect(await store.calendars.of("SPY")).toBe("US-EQ");
    const ny = (naive: string, offset: string) => Date.parse(`${naive.replace(" ", "T")}${offset}`);
    await store.insertBars("SPY", [
      { timestamp: ny("2024-03-08 10:00", "-05:00"), close: 1, volume: 1 },
      { timestamp: ny("2024-03-08 16:00", "-05:00"), close: 2, volume: 1 },
      { timestamp: ny("2024-03-11 10:00", "-04:00"), close: 3, volume: 1 },
    ]);
    const hours = await store.getBars("SPY", { interval: "1h", align: "session" });
    // Across the change to daylight time the buckets still end at 10:30 and 16:00 New York time.
    expect(hours.map((b) => b.timestamp)).toEqual([ny("2024-03-08 10:30", "-05:00"), ny("2024-03-08 16:00", "-05:00"), ny("2024-03-11 10:30", "-04:00")]);
    expect((await store.completeness("SPY")).days.map((d) => [d.date, d.expected, d.present])).toEqual([["2024-03-08", 390, 2], ["2024-03-11", 390, 1]]);
    const put = await store.audit.query({ action: "calendar.put" });
    expect(put.map((e) => [e.entity, e.details])).toEqual([["US-EQ", { timezone: "America/New_York", days: 2, first: "2024-03-08", last: "2024-03-11" }]]);
    // Taking the symbol's calendar away is audited, and its session reads are refused again.
    await store.calendars.assign("SPY", null);
    expect(await store.calendars.of("SPY")).toBeNull();
    await expect(store.getBars("SPY", { interval: "1h", align: "session" })).rejects.toBeInstanceOf(ValidationError);
  });

  test("a calendar that fails its checks is refused and nothing is written", async () => {
    const store = await open(await freshDatabase());
    await expect(store.calendars.put({ name: "BAD", timezone: "Mars/Olympus", days: ["2024-01-02", "2024-01-02"], rules: [] })).rejects.toBeInstanceOf(ValidationError);
    expect(await store.calendars.get("BAD")).toBeNull();
    expect(await store.audit.query({ action: "calendar.put" })).toEqual([]);
  });
});
