import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Calendar } from "../../src/domain/calendar.ts";
import { SHIPPED_CALENDARS, shippedCalendar } from "../../src/domain/calendars/index.ts";
import { decodeCalendar, encodeCalendar } from "../../src/domain/calendars/encoding.ts";
import { ValidationError } from "../../src/domain/errors.ts";
import { tempDir } from "../support/files.ts";
import { readTdxBars, TDX_ETF_5MIN_DESC, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";

const root = join(import.meta.dir, "../..");
const sources = join(root, "test/fixtures/calendar");
const xshg = new Calendar(shippedCalendar("XSHG")!);
const xshe = new Calendar(shippedCalendar("XSHE")!);

/** exchange_calendars' XSHG session days, read here independently of the generator. */
function exchangeCalendarsDays(): string[] {
  const lines = readFileSync(join(sources, "XSHG-sessions-exchange_calendars.csv"), "utf8").trim().split("\n").slice(1);
  // Its first 12 rows (1990-12-03..18) precede the exchange's opening.
  return lines.map((line) => line.slice(0, 10)).filter((day) => day >= "1990-12-19");
}

function countByYear(days: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const day of days) counts.set(day.slice(0, 4), (counts.get(day.slice(0, 4)) ?? 0) + 1);
  return counts;
}

function csvColumn(file: string, column: string): string[] {
  const [header, ...lines] = readFileSync(join(sources, file), "utf8").trim().split(/\r?\n/);
  const at = header!.split(",").indexOf(column);
  return lines.map((line) => line.split(",")[at]!);
}

const dashed = (yyyymmdd: string) => `${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}-${yyyymmdd.slice(6, 8)}`;

describe("shipped calendars", () => {
  test("XSHG and XSHE are shipped, decode into valid calendars, and are decoded once", () => {
    expect([...SHIPPED_CALENDARS]).toEqual(["XSHG", "XSHE"]);
    for (const name of SHIPPED_CALENDARS) expect(() => new Calendar(shippedCalendar(name)!)).not.toThrow();
    expect(shippedCalendar("XSHG")).toBe(shippedCalendar("XSHG"));
    expect(shippedCalendar("XNYS")).toBeUndefined();
    expect(shippedCalendar("toString")).toBeUndefined();
  });

  test("Shanghai starts on its opening day 1990-12-19, Shenzhen on 1991-04-03; both run to 2026-12-31", () => {
    expect([xshg.first, xshg.last]).toEqual(["1990-12-19", "2026-12-31"]);
    expect([xshe.first, xshe.last]).toEqual(["1991-04-03", "2026-12-31"]);
  });

  test("trading days per year equal exchange_calendars' for every year it covers", () => {
    const expected = countByYear(exchangeCalendarsDays());
    expect(expected.get("1990")).toBe(9);
    expect(countByYear(xshg.days)).toEqual(expected);
    const shenzhen = countByYear(xshe.days);
    for (const [year, count] of expected) if (year >= "1992") expect([year, shenzhen.get(year)]).toEqual([year, count]);
  });

  test("every day with bars in the real files is a trading day of its exchange", async () => {
    const shanghai = [
      ...(await readTdxBars(TDX_INDEX_1MIN)).map((bar) => bar.timestamp.slice(0, 10)),
      ...(await readTdxBars(TDX_ETF_5MIN_DESC)).map((bar) => bar.timestamp.slice(0, 10)),
      ...csvColumn("sh.600036-baostock-raw-2005-2021.csv", "date"),
    ];
    const bytes = new DataView(readFileSync(join(sources, "sz000001.day")).buffer);
    const tdxDays: string[] = [];
    for (let at = 0; at < bytes.byteLength; at += 32) tdxDays.push(dashed(String(bytes.getUint32(at, true))));
    const shenzhen = [...csvColumn("000001.SZ-tushare-daily-raw-1991-2018.csv", "trade_date").map(dashed), ...tdxDays];
    expect(shanghai.length).toBeGreaterThan(20_000);
    expect(shenzhen.length).toBe(6678 + 4995);
    expect(shanghai.filter((day) => !xshg.isTradingDay(day))).toEqual([]);
    expect(shenzhen.filter((day) => !xshe.isTradingDay(day))).toEqual([]);
  });

  test("holidays and weekend make-up working days are closed; the days around them trade", () => {
    for (const calendar of [xshg, xshe]) {
      // Spring Festival 2024 (the exchanges also closed Friday 02-09), National Day 2024.
      for (const day of ["2024-02-09", "2024-02-12", "2024-02-16", "2024-10-01", "2024-10-04", "2024-10-07"]) {
        expect([day, calendar.isTradingDay(day)]).toEqual([day, false]);
      }
      // 调休: Sunday 2024-02-04 and Saturday 2024-10-12 were official working days, not trading days.
      for (const day of ["2024-02-04", "2024-02-18", "2024-10-12"]) expect([day, calendar.isTradingDay(day)]).toEqual([day, false]);
      expect(calendar.daysBetween("2024-02-05", "2024-02-19")).toEqual(["2024-02-05", "2024-02-06", "2024-02-07", "2024-02-08", "2024-02-19"]);
      expect(calendar.daysBetween("2024-09-30", "2024-10-09")).toEqual(["2024-09-30", "2024-10-08", "2024-10-09"]);
    }
  });

  test("sessions are 09:30-11:30 and 13:00-15:00 Shanghai time, daylight-saving summer of 1991 included", () => {
    expect(xshg.sessionsOn("1990-12-19")).toEqual([{ open: 570, close: 690 }, { open: 780, close: 900 }]);
    expect(xshe.sessionsOn("2024-01-15")).toEqual([{ open: 570, close: 690 }, { open: 780, close: 900 }]);
    // exchange_calendars: 1991-06-03 opened at 00:30 UTC (UTC+9 that summer), 2024-01-15 at 01:30.
    expect(xshg.spansOn("1991-06-03")[0]!.open).toBe(Date.parse("1991-06-03T00:30:00Z"));
    expect(xshg.spansOn("2024-01-15")[1]!.close).toBe(Date.parse("2024-01-15T07:00:00Z"));
  });

  test("the committed text round-trips, and malformed text is refused naming the line", () => {
    const data = shippedCalendar("XSHE")!;
    expect(decodeCalendar(encodeCalendar(data))).toEqual(data);
    const text = encodeCalendar({ name: "T", timezone: "UTC", days: ["2025-12-31", "2026-01-02", "2026-01-03"], rules: [{ from: "2025-12-31", sessions: [{ open: 0, close: 1440 }] }] });
    expect(text).toEndWith("2025\n2026 0101 +0103\n");
    expect(() => decodeCalendar(text.replace("2025\n", ""))).toThrow("no line for 2025");
    expect(() => decodeCalendar(text.replace("0101", "0132"))).toThrow(ValidationError);
    expect(() => decodeCalendar(text.replace("0101", "0132"))).toThrow("line 7");
  });

  test("the generator, run again, reproduces the committed data byte for byte", () => {
    const dir = tempDir("tradelite-calendars-");
    try {
      const run = Bun.spawnSync(["bun", join(root, "scripts/calendar-data.ts"), dir.path], { cwd: root, stdout: "pipe", stderr: "pipe" });
      expect(run.stderr.toString()).toBe("");
      expect(run.exitCode).toBe(0);
      expect(run.stdout.toString()).toContain("0 on closed days");
      for (const file of ["xshg.ts", "xshe.ts"]) {
        expect([file, readFileSync(dir.file(file), "utf8")]).toEqual([file, readFileSync(join(root, "src/domain/calendars", file), "utf8")]);
      }
    } finally {
      dir.cleanup();
    }
  }, 30_000);
});
