/**
 * Calendars in a SQLite file (src/sqlite/calendars.ts) and what reads make of them: the shipped
 * calendars written at creation, session-aligned reads and completeness on the real Shanghai
 * Composite file, audited changes, and a second connection seeing a calendar another changed.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { openDatabase, ValidationError, type Database } from "../../src/mod.ts";
import { shippedCalendar } from "../../src/domain/calendars/index.ts";
import { parseCalendarFile, parseSessions } from "../../src/domain/calendar.ts";
import { readTdxBars, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";
import { tempDir } from "../support/files.ts";

const at = (naive: string) => Date.parse(`${naive.replace(" ", "T")}+08:00`);
const wall = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 16).replace("T", " ");

let dir: ReturnType<typeof tempDir>;
const opened: Database[] = [];
beforeEach(() => {
  dir = tempDir("tradelite-calendars-");
});
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
  dir.cleanup();
});

function open(): Database {
  const db = openDatabase({ path: dir.file("market.db"), timezone: "Asia/Shanghai", barTimestamp: "end" });
  opened.push(db);
  return db;
}

const realBars = await readTdxBars(TDX_INDEX_1MIN);

describe("calendars in a SQLite file", () => {
  test("a new file holds the shipped XSHG and XSHE, day for day", () => {
    const db = open();
    const names = db.calendars.list().map((c) => c.name);
    expect(names).toEqual(["XSHE", "XSHG"]);
    expect(db.calendars.get("XSHG")!.days).toEqual([...shippedCalendar("XSHG")!.days]);
    expect(db.calendars.get("NOPE")).toBeNull();
  });

  test("session-aligned reads of the real 1-minute file: 4 hourly bars a day, 5m equal to the clock's to the bit", () => {
    const db = open();
    db.insertBars("000001.SH", realBars);
    db.calendars.assign("000001.SH", "XSHG");
    const hours = db.getBars("000001.SH", { interval: "1h", align: "session" });
    expect(hours).toHaveLength(400);
    expect(hours.slice(0, 4).map((b) => wall(b.timestamp))).toEqual(["2022-12-16 10:30", "2022-12-16 11:30", "2022-12-16 14:00", "2022-12-16 15:00"]);
    // A-share sessions open on 5-minute marks, so the clock's 5m buckets are the session's:
    // SQLite's sum() and the domain's compensated sum must agree exactly.
    expect(db.getBars("000001.SH", { interval: "5m", align: "session" })).toEqual(db.getBars("000001.SH", { interval: "5m" }));
    expect(db.getBars("000001.SH", { interval: "1d", align: "session" })).toEqual(db.getBars("000001.SH", { interval: "1d" }));
    const iterated = [...db.iterateBars("000001.SH", { interval: "30m", align: "session", order: "desc", limit: 3 })];
    expect(iterated.map((b) => wall(b.timestamp))).toEqual(["2023-05-18 15:00", "2023-05-18 14:30", "2023-05-18 14:00"]);
  });

  test("a symbol with no calendar: a session read and completeness name the fix", () => {
    const db = open();
    db.insertBars("X", [{ timestamp: at("2024-01-02 09:31"), close: 1 }]);
    expect(() => db.getBars("X", { interval: "1h", align: "session" })).toThrow(/tradelite settings set calendar/);
    expect(() => db.completeness("X")).toThrow(ValidationError);
  });

  test("completeness finds exactly the minutes deleted", () => {
    const db = open();
    db.insertBars("000001.SH", realBars);
    db.calendars.assign("000001.SH", "XSHG");
    expect(db.completeness("000001.SH").days.every((d) => d.present === 240)).toBe(true);
    db.deleteBars("000001.SH", { start: at("2023-03-01 10:00"), end: at("2023-03-01 10:09") });
    db.deleteBars("000001.SH", { start: at("2023-03-02 00:00"), end: at("2023-03-02 23:59") });
    const report = db.completeness("000001.SH", { start: at("2023-03-01 00:00"), end: at("2023-03-03 23:59") });
    expect(report.calendar).toBe("XSHG");
    expect(report.days.map((d) => [d.date, d.present, d.missing.map((r) => `${wall(r.start)}..${wall(r.end)}`)])).toEqual([
      ["2023-03-01", 230, ["2023-03-01 10:00..2023-03-01 10:09"]],
      ["2023-03-02", 0, ["2023-03-02 09:31..2023-03-02 11:30", "2023-03-02 13:01..2023-03-02 15:00"]],
      ["2023-03-03", 240, []],
    ]);
  });

  test("replacing a year is audited and seen by a second connection; bad rows change nothing", () => {
    const db = open();
    const other = open();
    expect(other.calendars.get("XSHG")!.days.includes("2026-12-31")).toBe(true);
    const days = parseCalendarFile("date,sessions\n2026-12-30,\n2026-12-31,09:30-11:30\n");
    db.calendars.replaceYear("XSHG", 2026, days);
    const seen = other.calendars.get("XSHG")!;
    expect(seen.days.filter((d) => d.startsWith("2026"))).toEqual(["2026-12-30", "2026-12-31"]);
    expect(seen.exceptions!["2026-12-31"]).toEqual(parseSessions("09:30-11:30"));
    expect(db.audit.query({ action: "calendar.replace_year" }).map((e) => e.entity)).toEqual(["XSHG"]);
    expect(() => db.calendars.replaceYear("XSHG", 2025, [{ date: "2024-12-31" }])).toThrow(/outside 2025/);
    expect(db.calendars.get("XSHG")!.days.filter((d) => d.startsWith("2025")).length).toBe(shippedCalendar("XSHG")!.days.filter((d) => d.startsWith("2025")).length);
  });

  test("a user calendar (US equities, New York) works as the shipped ones do", () => {
    const db = open();
    db.calendars.put({ name: "US-EQ", timezone: "America/New_York", days: ["2024-03-08", "2024-03-11"], rules: [{ from: "2024-01-01", sessions: parseSessions("09:30-16:00") }] });
    db.calendars.assign("SPY", "US-EQ");
    const ny = (naive: string, offset: string) => Date.parse(`${naive.replace(" ", "T")}${offset}`);
    db.insertBars("SPY", [
      { timestamp: ny("2024-03-08 10:00", "-05:00"), close: 1, volume: 1 },
      { timestamp: ny("2024-03-08 16:00", "-05:00"), close: 2, volume: 1 },
      { timestamp: ny("2024-03-11 10:00", "-04:00"), close: 3, volume: 1 },
    ]);
    const hours = db.getBars("SPY", { interval: "1h", align: "session" });
    // Across the change to daylight time the buckets still end at 10:30 and 16:00 New York time.
    expect(hours.map((b) => b.timestamp)).toEqual([ny("2024-03-08 10:30", "-05:00"), ny("2024-03-08 16:00", "-05:00"), ny("2024-03-11 10:30", "-04:00")]);
    expect(db.completeness("SPY").days.map((d) => [d.date, d.expected, d.present])).toEqual([["2024-03-08", 390, 2], ["2024-03-11", 390, 1]]);
  });
});

describe("fill: previous", () => {
  test("missing minutes come back at the previous close with zero volume, flagged; nothing before the data or after it", () => {
    const db = open();
    db.calendars.assign("S", "XSHG");
    db.insertBars("S", [
      { timestamp: at("2024-01-02 09:31"), open: 10, high: 11, low: 9, close: 10.5, volume: 100 },
      { timestamp: at("2024-01-02 09:34"), open: 10.6, high: 10.7, low: 10.4, close: 10.6, volume: 200 },
      { timestamp: at("2024-01-02 11:30"), open: 10.6, high: 10.7, low: 10.4, close: 10.7, volume: 200 },
      { timestamp: at("2024-01-02 13:02"), open: 10.6, high: 10.9, low: 10.4, close: 10.8, volume: 200 },
    ]);
    const filled = db.getBars("S", { start: "2024-01-02 09:00", end: "2024-01-02 13:10", fill: "previous" });
    expect(filled.slice(0, 4).map((b) => [wall(b.timestamp), b.close, b.volume, "filled" in b])).toEqual([
      ["2024-01-02 09:31", 10.5, 100, false],
      ["2024-01-02 09:32", 10.5, 0, true],
      ["2024-01-02 09:33", 10.5, 0, true],
      ["2024-01-02 09:34", 10.6, 200, false],
    ]);
    // 09:31 .. 11:30 and 13:01 .. 13:02, nothing in the lunch break, nothing after the last bar.
    expect(filled).toHaveLength(122);
    expect(wall(filled.at(-2)!.timestamp)).toBe("2024-01-02 13:01");
    expect(filled.at(-2)).toEqual({ timestamp: at("2024-01-02 13:01"), open: 10.7, high: 10.7, low: 10.7, close: 10.7, volume: 0, amount: 0, filled: true });
    expect(db.getBars("S", { fill: "none" })).toHaveLength(4);
    // Newest first with a limit: the same bars, reversed, cut.
    expect(db.getBars("S", { fill: "previous", order: "desc", limit: 3 }).map((b) => wall(b.timestamp))).toEqual(["2024-01-02 13:02", "2024-01-02 13:01", "2024-01-02 11:30"]);
  });

  test("resampled reads fill the session grid from the close before the range; a clock-aligned fill is refused", () => {
    const db = open();
    db.calendars.assign("S", "XSHG");
    db.insertBars("S", [
      { timestamp: at("2024-01-02 15:00"), close: 9 },
      { timestamp: at("2024-01-03 14:10"), close: 10, volume: 5 },
      { timestamp: at("2024-01-05 10:00"), close: 11, volume: 5 },
    ]);
    const hours = db.getBars("S", { start: "2024-01-03 00:00", interval: "1h", align: "session", fill: "previous" });
    expect(hours.map((b) => [wall(b.timestamp), b.close, b.volume])).toEqual([
      ["2024-01-03 10:30", 9, 0],
      ["2024-01-03 11:30", 9, 0],
      ["2024-01-03 14:00", 9, 0],
      ["2024-01-03 15:00", 10, 5],
      ["2024-01-04 10:30", 10, 0],
      ["2024-01-04 11:30", 10, 0],
      ["2024-01-04 14:00", 10, 0],
      ["2024-01-04 15:00", 10, 0],
      ["2024-01-05 10:30", 11, 5],
    ]);
    const days = db.getBars("S", { interval: "1d", align: "session", fill: "previous" });
    expect(days.map((b) => [wall(b.timestamp).slice(0, 10), b.volume])).toEqual([["2024-01-02", null], ["2024-01-03", 5], ["2024-01-04", 0], ["2024-01-05", 5]]);
    expect(() => db.getBars("S", { interval: "1h", fill: "previous" })).toThrow(/align: session/);
    expect(() => db.getBars("S", { fill: "always" as never })).toThrow(ValidationError);
  });
});
