/**
 * The daily series over HTTP (src/api/bars.ts, src/api/symbols.ts): ?interval=1d on POST and
 * DELETE /v1/bars/{symbol}, ?source= on GET, and /v1/symbols' daily field, in process over a real
 * SQLite file; answers checked against the store.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { call, closeApiFixtures, expectError, minuteBars, openApiFixture } from "../support/api.ts";

afterEach(closeApiFixtures);

/** 2024-01-02 09:30 in Shanghai. */
const T0 = Date.UTC(2024, 0, 2, 1, 30);
const midnight = (date: string) => Date.parse(`${date}T00:00:00+08:00`);
const DAYS = [
  { timestamp: "2024-01-02", open: 10, high: 11, low: 9, close: 10.5, volume: 1_000, amount: 10_500 },
  { timestamp: "2024-01-03", open: 10.5, high: 12, low: 10, close: 11, volume: 2_000, amount: 22_000 },
];

describe("the daily series over /v1/bars/{symbol}", () => {
  test("POST ?interval=1d (JSON or CSV) writes daily bars beside the minutes; GET ?interval=1d&source= reads each side or both", async () => {
    const f = await openApiFixture({ timezone: "Asia/Shanghai" });
    const minutes = minuteBars(T0, 30);
    expect((await call(f.app, "POST", "/v1/bars/600519.SH", { json: minutes })).body).toEqual({ written: 30 });
    expect((await call(f.app, "POST", "/v1/bars/600519.SH?interval=1d", { json: DAYS })).body).toEqual({ written: 2 });
    const csv = "timestamp,open,high,low,close,volume,amount\n2024-01-04T16:00:00.000Z,11,11.5,10.5,11.2,3000,33600\n";
    expect((await call(f.app, "POST", "/v1/bars/600519.SH?interval=1d", { csv })).body).toEqual({ written: 1 });
    expect(await f.store.getBars("600519.SH")).toHaveLength(30);

    const stored = (await call(f.app, "GET", "/v1/bars/600519.SH?interval=1d&source=stored")).body as { timestamp: number }[];
    expect(stored.map((bar) => bar.timestamp)).toEqual([midnight("2024-01-02"), midnight("2024-01-03"), midnight("2024-01-05")]);
    expect(stored).toEqual(await f.store.getBars("600519.SH", { interval: "1d", source: "stored" }));
    const fromMinutes = (await call(f.app, "GET", "/v1/bars/600519.SH?interval=1d&source=minutes")).body;
    expect(fromMinutes).toEqual(await f.store.getBars("600519.SH", { interval: "1d", source: "minutes" }));
    expect(fromMinutes).toHaveLength(1);
    // Both merged: the stored 2024-01-02 wins over the one from minutes.
    expect((await call(f.app, "GET", "/v1/bars/600519.SH?interval=1d")).body).toEqual(stored);
    const ndjson = await call(f.app, "GET", "/v1/bars/600519.SH?interval=1d&source=stored&format=ndjson&order=desc&limit=1");
    expect(JSON.parse(ndjson.text.trim())).toEqual(stored[2]);

    expect((await call(f.app, "DELETE", "/v1/bars/600519.SH?interval=1d&start=2024-01-03")).body).toEqual({ deleted: 2 });
    expect(await f.store.getBars("600519.SH")).toHaveLength(30);
    expect((await call(f.app, "DELETE", "/v1/bars/600519.SH?interval=1d&all=true")).body).toEqual({ deleted: 1 });
    expect((await f.store.overview())[0]!.daily).toBeUndefined();
    const entries = await f.store.audit.query({ action: "bars.delete" });
    expect(entries.map((entry) => (entry.details as { interval?: string }).interval)).toEqual(["1d", "1d"]);
  });

  test("422 naming the field for a daily bar off midnight, an unknown interval, and source without interval=1d; nothing written", async () => {
    const f = await openApiFixture({ timezone: "Asia/Shanghai" });
    const offMidnight = expectError(await call(f.app, "POST", "/v1/bars/X?interval=1d", { json: [{ ...DAYS[0]!, timestamp: "2024-01-02 15:00" }] }), 422, "VALIDATION");
    expect(offMidnight.details).toEqual([{ row: 0, field: "timestamp", message: expect.stringContaining("local midnight") }]);
    expect(expectError(await call(f.app, "POST", "/v1/bars/X?interval=1h", { json: DAYS }), 422, "VALIDATION").details).toEqual([{ field: "interval", message: expect.any(String) }]);
    expect(expectError(await call(f.app, "DELETE", "/v1/bars/X?interval=5m&all=true"), 422, "VALIDATION").details).toEqual([{ field: "interval", message: expect.any(String) }]);
    for (const query of ["source=stored", "interval=1w&source=stored"]) {
      expect(expectError(await call(f.app, "GET", `/v1/bars/X?${query}`), 422, "VALIDATION").details).toEqual([{ field: "source", message: expect.any(String) }]);
    }
    expect(expectError(await call(f.app, "GET", "/v1/bars/X?interval=1d&source=vendor"), 422, "VALIDATION").details).toEqual([{ field: "source", message: expect.any(String) }]);
    expect(await f.store.overview()).toEqual([]);
  });
});

describe("GET /v1/symbols", () => {
  test("a symbol's daily series is its daily field; a symbol with daily bars only has count 0 and null bounds", async () => {
    const f = await openApiFixture({ timezone: "Asia/Shanghai" });
    await call(f.app, "POST", "/v1/bars/BOTH", { json: minuteBars(T0, 3) });
    await call(f.app, "POST", "/v1/bars/BOTH?interval=1d", { json: DAYS });
    await call(f.app, "POST", "/v1/bars/DAYS?interval=1d", { json: DAYS.slice(1) });
    const answer = await call(f.app, "GET", "/v1/symbols");
    expect(answer.body).toEqual([
      { symbol: "BOTH", count: 3, start: T0, end: T0 + 2 * 60_000, daily: { count: 2, start: midnight("2024-01-02"), end: midnight("2024-01-03") } },
      { symbol: "DAYS", count: 0, start: null, end: null, daily: { count: 1, start: midnight("2024-01-03"), end: midnight("2024-01-03") } },
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
