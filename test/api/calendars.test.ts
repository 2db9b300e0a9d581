/**
 * The calendar routes and the session-aware bar routes (src/api/calendars.ts, src/api/bars.ts)
 * through a real server on a loopback port over a SQLite file: the shipped calendars listed, a
 * symbol given a calendar, ?align=session reads and the completeness report of the real Shanghai
 * Composite file, a year replaced from a calendar file, and bad input refused with nothing written.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { openStore, type Store } from "../../src/mod.ts";
import { startServer, type RunningServer } from "../../src/api/server.ts";
import { tempDir } from "../support/files.ts";
import { readTdxBars, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";

const at = (naive: string) => Date.parse(`${naive.replace(" ", "T")}+08:00`);
const wall = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 16).replace("T", " ");

let dir: ReturnType<typeof tempDir>;
let store: Store;
let server: RunningServer;
const realBars = await readTdxBars(TDX_INDEX_1MIN);

beforeEach(async () => {
  dir = tempDir("tradelite-api-calendars-");
  store = await openStore({ backend: "sqlite", path: dir.file("market.db"), timezone: "Asia/Shanghai", barTimestamp: "end" });
  server = startServer(store, { port: 0 });
});

afterEach(async () => {
  await server.stop(true);
  await store.close();
  dir.cleanup();
});

async function call(method: string, path: string, body?: unknown, type = "application/json") {
  const response = await fetch(`${server.url}${path}`, {
    method,
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body), headers: { "content-type": type } }),
  });
  return { status: response.status, body: (await response.json()) as any };
}

describe("calendars over HTTP", () => {
  test("the shipped calendars are listed; one is read whole; an unknown one is 404", async () => {
    const list = await call("GET", "/v1/calendars");
    expect(list.status).toBe(200);
    expect(list.body.map((c: { name: string }) => c.name)).toEqual(["XSHE", "XSHG"]);
    const xshg = await call("GET", "/v1/calendars/XSHG");
    expect(xshg.body.rules).toEqual([{ from: "1990-12-19", sessions: "09:30-11:30 13:00-15:00" }]);
    expect(xshg.body.days[0]).toBe("1990-12-19");
    expect((await call("GET", "/v1/calendars/NOPE")).status).toBe(404);
  });

  test("?align=session hourly bars of the real file and its completeness, after the symbol is given XSHG", async () => {
    await store.insertBars("000001.SH", realBars);
    const refused = await call("GET", "/v1/bars/000001.SH?interval=1h&align=session");
    expect(refused.status).toBe(422);
    expect(JSON.stringify(refused.body.error)).toContain("tradelite settings set calendar");
    expect((await call("PUT", "/v1/symbols/000001.SH/calendar", { calendar: "XSHG" })).body).toEqual({ symbol: "000001.SH", calendar: "XSHG" });
    const hours = await call("GET", "/v1/bars/000001.SH?interval=1h&align=session&limit=4");
    expect(hours.body.map((b: { timestamp: number }) => wall(b.timestamp))).toEqual(["2022-12-16 10:30", "2022-12-16 11:30", "2022-12-16 14:00", "2022-12-16 15:00"]);
    await store.deleteBars("000001.SH", { start: at("2023-01-05 14:00"), end: at("2023-01-05 14:04") });
    const report = await call("GET", `/v1/bars/000001.SH/completeness?start=${at("2023-01-05 00:00")}&end=${at("2023-01-05 23:59")}`);
    expect(report.status).toBe(200);
    expect(report.body).toEqual({
      calendar: "XSHG",
      days: [{ date: "2023-01-05", expected: 240, present: 235, missing: [{ start: at("2023-01-05 14:00"), end: at("2023-01-05 14:04") }] }],
      outside: 0,
      nonTradingDays: [],
    });
    expect((await call("GET", "/v1/bars/000001.SH?interval=1h&align=sessions")).status).toBe(422);
  });

  test("a year replaced from a calendar file is audited; a file with a repeated day changes nothing", async () => {
    const csv = "date,sessions\n2026-12-30,\n2026-12-31,09:30-11:30\n";
    const replaced = await call("PUT", "/v1/calendars/XSHG/years/2026", csv, "text/csv");
    expect(replaced.status).toBe(200);
    expect(replaced.body.last).toBe("2026-12-31");
    const days = (await call("GET", "/v1/calendars/XSHG")).body.days as string[];
    expect(days.filter((d) => d.startsWith("2026"))).toEqual(["2026-12-30", "2026-12-31"]);
    expect((await store.audit.query({ action: "calendar.replace_year" })).map((e) => e.details)).toEqual([{ year: 2026, days: 2 }]);

    const bad = await call("PUT", "/v1/calendars/XSHG/years/2025", "date,sessions\n2025-01-02,\n2025-01-02,\n2025-01-03,13:00-12:00\n", "text/csv");
    expect(bad.status).toBe(422);
    expect(bad.body.error.details.map((d: { row: number }) => d.row)).toEqual([3, 4]);
    const outside = await call("PUT", "/v1/calendars/XSHG/years/2025", { days: [{ date: "2024-12-31" }] });
    expect(outside.status).toBe(422);
    expect(JSON.stringify(outside.body)).toContain("outside 2025");
    const after = (await call("GET", "/v1/calendars/XSHG")).body.days as string[];
    expect(after.filter((d) => d.startsWith("2025")).length).toBeGreaterThan(240);
  });

  test("a user calendar is created whole; bad zones and overlapping sessions are refused naming the field", async () => {
    const put = await call("PUT", "/v1/calendars/US-EQ", { timezone: "America/New_York", rules: [{ from: "2024-01-01", sessions: "09:30-16:00" }], days: ["2024-03-08", "2024-03-11"] });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ name: "US-EQ", timezone: "America/New_York", first: "2024-03-08", last: "2024-03-11", days: 2 });
    const zone = await call("PUT", "/v1/calendars/BAD", { timezone: "Mars/Olympus", rules: [{ from: "2024-01-01", sessions: "09:30-16:00" }], days: [] });
    expect(zone.status).toBe(422);
    expect(zone.body.error.details).toContainEqual({ field: "timezone", message: expect.stringContaining("Mars/Olympus") });
    const overlap = await call("PUT", "/v1/calendars/BAD", { timezone: "UTC", rules: [{ from: "2024-01-01", sessions: "09:00-12:00 11:00-15:00" }], days: [] });
    expect(overlap.status).toBe(422);
    expect(JSON.stringify(overlap.body)).toContain("overlaps");
    expect((await call("GET", "/v1/calendars/BAD")).status).toBe(404);
  });
});
