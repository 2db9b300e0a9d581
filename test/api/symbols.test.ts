/**
 * GET /health and GET /v1/symbols (src/api/symbols.ts): the overview, with each symbol's daily
 * series and, on request, its completeness
 *
 * In process through app.request(), over a real SQLite file; answers are checked against what the
 * store holds afterwards, and every refusal for the one error shape and for having written nothing.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createApp } from "../../src/api/app.ts";
import { openStore } from "../../src/mod.ts";
import { call, closeApiFixtures, expectError, minuteBars, openApiFixture } from "../support/api.ts";
import { T0, MIN, DAILY_BARS, shanghaiMidnight } from "../support/api-routes.ts";

afterEach(closeApiFixtures);

describe("GET /health, /ready, /v1/info and /v1/symbols", () => {
  test("health says only that the server is up and its version, without the store: it answers after the store is closed", async () => {
    const f = await openApiFixture();
    const version = (await Bun.file(new URL("../../package.json", import.meta.url)).json()).version;
    expect(await call(f.app, "GET", "/health")).toMatchObject({ status: 200, body: { status: "ok", version } });
    expect(Object.keys((await call(f.app, "GET", "/health")).body as object).sort()).toEqual(["status", "version"]);
    expect((await call(f.app, "GET", "/ready")).body).toEqual({ status: "ready" });
    await f.store.close();
    expect((await call(f.app, "GET", "/health")).status).toBe(200);
    // Ready asks the store, which is closed now: 503, the store's code named.
    const notReady = await call(f.app, "GET", "/ready");
    expect(notReady.status).toBe(503);
  });

  test("info names the backend, the store's timezone, the database file and its journal mode", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "GET", "/v1/info");
    expect(answer.status).toBe(200);
    const info = await f.store.maintenance.info();
    expect(answer.body).toEqual({
      version: expect.any(String),
      backend: "sqlite",
      timezone: f.store.timezone,
      barTimestamp: "start",
      calendar: null,
      normalizeSymbols: false,
      db: { path: f.dbPath, journalMode: "wal", sizeBytes: info.fileBytes + info.walBytes },
    });
    expect(answer.body.version).toBe((await Bun.file(new URL("../../package.json", import.meta.url)).json()).version);
  });

  test("symbols is the store's overview: count, first and last bar per symbol", async () => {
    const f = await openApiFixture();
    expect((await call(f.app, "GET", "/v1/symbols")).body).toEqual([]);
    await f.store.insertBars("AAA", minuteBars(T0, 5));
    await f.store.insertBars("BBB.SH", minuteBars(T0 + 10 * MIN, 3));
    const answer = await call(f.app, "GET", "/v1/symbols");
    expect(answer.status).toBe(200);
    const bySymbol: Record<string, unknown> = Object.fromEntries((answer.body as { symbol: string }[]).map((row) => [row.symbol, row]));
    expect(bySymbol).toEqual({
      AAA: { symbol: "AAA", count: 5, start: T0, end: T0 + 4 * MIN },
      "BBB.SH": { symbol: "BBB.SH", count: 3, start: T0 + 10 * MIN, end: T0 + 12 * MIN },
    });
    expect(answer.body).toEqual(await f.store.overview());
  });
});

// ---------------------------------------------------------------------------------------------

describe("GET /v1/symbols: the daily series and completeness", () => {
  test("a symbol's daily series is its daily field; a symbol with daily bars only has count 0 and null bounds", async () => {
    const f = await openApiFixture({ timezone: "Asia/Shanghai" });
    await call(f.app, "POST", "/v1/bars/BOTH", { json: minuteBars(T0, 3) });
    await call(f.app, "POST", "/v1/bars/BOTH?interval=1d", { json: DAILY_BARS });
    await call(f.app, "POST", "/v1/bars/DAYS?interval=1d", { json: DAILY_BARS.slice(1) });
    const answer = await call(f.app, "GET", "/v1/symbols");
    expect(answer.body).toEqual([
      { symbol: "BOTH", count: 3, start: T0, end: T0 + 2 * 60_000, daily: { count: 2, start: shanghaiMidnight("2024-01-02"), end: shanghaiMidnight("2024-01-03") } },
      { symbol: "DAYS", count: 0, start: null, end: null, daily: { count: 1, start: shanghaiMidnight("2024-01-03"), end: shanghaiMidnight("2024-01-03") } },
    ]);
    expect(answer.body).toEqual(await f.store.overview());
  });

  test("?completeness=true adds each symbol's expected and missing minutes, as the store computes them; other values are 422", async () => {
    const f = await openApiFixture({ timezone: "Asia/Shanghai" });
    await f.store.updateSettings({ calendar: "XSHG" });
    // 09:30 to 09:59 start-stamped: 30 of 2024-01-02's 240 minutes.
    await call(f.app, "POST", "/v1/bars/600519.SH", { json: minuteBars(T0, 30) });
    const plain = (await call(f.app, "GET", "/v1/symbols")).body as object[];
    expect(plain).toEqual([{ symbol: "600519.SH", count: 30, start: T0, end: T0 + 29 * 60_000 }]);
    const counted = await call(f.app, "GET", "/v1/symbols?completeness=true");
    expect(counted.body).toEqual([{ ...plain[0], expected: 240, missing: 210 }]);
    expect(counted.body).toEqual(await f.store.overview({ completeness: true }));
    expect((await call(f.app, "GET", "/v1/symbols?completeness=false")).body).toEqual(plain);
    expect(expectError(await call(f.app, "GET", "/v1/symbols?completeness=1"), 422, "VALIDATION").details).toEqual([{ field: "completeness", message: expect.any(String) }]);
    expect(expectError(await call(f.app, "GET", "/v1/symbols?gaps=true"), 422, "VALIDATION").details).toEqual([{ field: "gaps", message: expect.any(String) }]);
  });

  test("the OpenAPI document describes ?source, ?interval on writes and the daily field", async () => {
    const f = await openApiFixture();
    const document = (await call(f.app, "GET", "/openapi.json")).body as { paths: Record<string, Record<string, { parameters?: { name: string }[] }>> };
    const bars = document.paths["/v1/bars/{symbol}"]!;
    expect(bars.get!.parameters!.map((p) => p.name)).toContain("source");
    expect(bars.post!.parameters!.map((p) => p.name)).toContain("interval");
    expect(bars.delete!.parameters!.map((p) => p.name)).toContain("interval");
    expect(JSON.stringify(document.paths["/v1/symbols"])).toContain("daily");
  });
});

// ---------------------------------------------------------------------------------------------

test("/v1/info reports the settings the database stores, to a store opened without being told them", async () => {
  const f = await openApiFixture({ timezone: "Asia/Shanghai" });
  await f.store.updateSettings({ calendar: "XSHG", normalizeSymbols: true });
  await f.store.close();
  const store = await openStore({ backend: "sqlite", path: f.dbPath });
  try {
    const app = createApp(store, { logError: () => {} });
    const health = await call(app, "GET", "/v1/info");
    expect(health.body).toMatchObject({ timezone: "Asia/Shanghai", barTimestamp: "start", calendar: "XSHG", normalizeSymbols: true });
  } finally {
    await store.close();
  }
});
