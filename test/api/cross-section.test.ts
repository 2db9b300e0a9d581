/**
 * GET /v1/cross-section (src/api/cross-section.ts) through a real server: Bun.serve on a random
 * loopback port over a SQLite file in Asia/Shanghai. Answers are compared with the store's own
 * getCrossSection; refusals with the one error shape, naming the field.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startServer, type RunningServer } from "../../src/entries/api.ts";
import { openStore, type Store } from "../../src/mod.ts";
import { randomBars } from "../support/bars.ts";
import { tempDir } from "../support/files.ts";

const MINUTE = 60_000;
const T0 = Date.parse("2024-07-11T09:31:00+08:00");
const dir = tempDir("tradelite-api-cross-section-");
let store: Store;
let server: RunningServer;

beforeAll(async () => {
  store = await openStore({ backend: "sqlite", path: dir.file("trading.db"), timezone: "Asia/Shanghai", barTimestamp: "end" });
  await store.insertBars("600519.SH", randomBars([T0, T0 + MINUTE, T0 + 2 * MINUTE], 1));
  await store.insertBars("000001.SZ", randomBars([T0 + MINUTE, Date.parse("2024-07-12T09:31:00+08:00")], 2));
  await store.insertBars("600519.SH", [{ timestamp: "2024-07-10", close: 10 }, { timestamp: "2024-07-11", close: 11 }], { interval: "1d" });
  server = startServer(store, { port: 0, logError: () => {} });
});

afterAll(async () => {
  await server.stop(true);
  await store.close();
  dir.cleanup();
});

async function post(body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.url}/v1/cross-section`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

async function get(query: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.url}/v1/cross-section?${query}`);
  return { status: response.status, body: await response.json() };
}

describe("GET /v1/cross-section", () => {
  test("answers what the store answers: named symbols with the missing ones, every symbol, epoch ms or a naive time", async () => {
    const named = await get(`at=${T0 + MINUTE}&symbols=600519.SH,NOPE,000001.SZ`);
    expect(named.status).toBe(200);
    expect(named.body).toEqual(await store.getCrossSection({ at: T0 + MINUTE, symbols: ["600519.SH", "NOPE", "000001.SZ"] }));
    expect(named.body.missing).toEqual(["NOPE"]);
    expect(named.body.rows.map((row: { symbol: string }) => row.symbol)).toEqual(["000001.SZ", "600519.SH"]);
    const every = await get(`at=${encodeURIComponent("2024-07-11 09:31")}`);
    expect(every.body).toEqual(await store.getCrossSection({ at: T0 }));
    expect(every.body.rows.map((row: { symbol: string }) => row.symbol)).toEqual(["600519.SH"]);
  });

  test("adjust, asOf and adjustVolume: GET and POST answer the store's adjusted cross-section", async () => {
    await store.adjustments.insert("600519.SH", [{ date: "2024-07-12", factor: 1.5, knownAt: "2024-07-11T18:00:00+08:00" }]);
    const at = T0 + 2 * MINUTE;
    // As of the ex-date evening: qfq prices are that day's, so the day before is divided by 1.5.
    const query = { at, adjust: "qfq", asOf: "2024-07-12T20:00:00+08:00", adjustVolume: true } as const;
    const expected = await store.getCrossSection(query);
    const raw = await store.getCrossSection({ at });
    const closeOf = (section: typeof raw) => section.rows.find((row) => row.symbol === "600519.SH")!.bar.close!;
    expect(closeOf(expected)).toBeCloseTo(closeOf(raw) / 1.5, 10);
    expect((await get(`at=${at}&adjust=qfq&asOf=${encodeURIComponent(query.asOf)}&adjustVolume=true`)).body).toEqual(expected);
    expect((await post({ ...query, symbols: ["600519.SH"] })).body).toEqual(await store.getCrossSection({ ...query, symbols: ["600519.SH"] }));
    const refused = await get(`at=${at}&asOf=2024-07-11`);
    expect(refused.status).toBe(422);
    expect(refused.body.error.details.map((issue: { field?: string }) => issue.field)).toEqual(["asOf"]);
  });

  test("a date alone is the end of that day in the store's zone; interval=1d reads the stored days ended by at", async () => {
    const day = await get("at=2024-07-11");
    expect(day.body.at).toBe(Date.parse("2024-07-12T00:00:00+08:00") - 1);
    expect(day.body.rows.map((row: { bar: { timestamp: number } }) => row.bar.timestamp)).toEqual([T0 + MINUTE, T0 + 2 * MINUTE]);
    const daily = await get(`at=${encodeURIComponent("2024-07-11T10:00:00+08:00")}&interval=1d`);
    expect(daily.body.interval).toBe("1d");
    expect(daily.body.rows.map((row: { bar: { close: number } }) => row.bar.close)).toEqual([10]);
  });

  test("refusals are 422 naming the field: at missing or unreadable, an unknown parameter or adjustment, a repeated or empty symbol, an unknown interval", async () => {
    const cases: [string, string][] = [
      ["symbols=600519.SH", "at"],
      ["at=soon", "at"],
      [`at=${T0}&adjust=sideways`, "adjust"],
      [`at=${T0}&adjusted=qfq`, "adjusted"],
      [`at=${T0}&symbols=A,B,A`, "symbols[2]"],
      [`at=${T0}&symbols=A,,B`, "symbols[1]"],
      [`at=${T0}&symbols=`, "symbols"],
      [`at=${T0}&interval=5m`, "interval"],
    ];
    for (const [query, field] of cases) {
      const answer = await get(query);
      expect({ query, status: answer.status }).toEqual({ query, status: 422 });
      expect(answer.body.error.details.map((issue: { field?: string }) => issue.field)).toContain(field);
    }
  });

  test("POST takes the same query as JSON: a list too long for a URL, symbols with commas; refusals are 422 naming the field", async () => {
    const long = await fetch(`${server.url}/v1/cross-section?at=${T0}&symbols=${Array.from({ length: 2_000 }, (_, i) => `${600_000 + i}.SH`).join(",")}`);
    expect(long.status).toBe(431);
    const symbols = ["600519.SH", "A,B", ...Array.from({ length: 5_000 }, (_, i) => `${i}.SZ`)];
    const answer = await post({ at: "2024-07-11", symbols });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(await store.getCrossSection({ at: "2024-07-11", symbols }));
    expect(answer.body.missing).toHaveLength(5_001);
    expect((await post({ at: T0, interval: "1d" })).body).toEqual(await store.getCrossSection({ at: T0, interval: "1d" }));
    for (const [body, field] of [[{ symbols: ["A"] }, "at"], [{ at: T0, adjust: "sideways" }, "adjust"], [{ at: T0, symbols: ["A", "A"] }, "symbols[1]"], [{ at: T0, symbols: [] }, "symbols"]] as const) {
      const refused = await post(body);
      expect({ body, status: refused.status }).toEqual({ body, status: 422 });
      expect(refused.body.error.details.map((issue: { field?: string }) => issue.field)).toEqual([field]);
    }
  });
});
