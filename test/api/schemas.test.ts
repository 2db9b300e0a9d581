/**
 * The query schemas (src/api/schemas.ts) are strict: every route refuses a query parameter it
 * does not know, and a repeated one, with a 422 naming it, and changes nothing. Their timestamps
 * follow the one date rule: `?start=20240115` is a day in the stored zone, not epoch ms; a date
 * as `end` is the whole day; other digits are epoch ms, and epoch seconds are refused; the API
 * answers what the library answers for the same text. In process through app.request(), over a
 * real SQLite file.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { call, closeApiFixtures, expectError, minuteBars, openApiFixture, snapshot } from "../support/api.ts";

afterEach(closeApiFixtures);
const T0 = Date.UTC(2024, 0, 2, 1, 31);

describe("unknown query parameters are refused on every route", () => {
  test("routes without parameters of their own answer 422 naming the parameter, and change nothing", async () => {
    const f = await openApiFixture({ withCache: true });
    await f.store.insertBars("AAA", minuteBars(T0, 3));
    await f.store.prefs.set("k", 1);
    await f.store.metrics.record("m", 100);
    const before = await snapshot(f.store, ["AAA"]);
    for (const [method, path, json] of [
      ["GET", "/health?x=1", undefined],
      ["GET", "/v1/symbols?x=1", undefined],
      ["POST", "/v1/bars/AAA?dryRun=true", minuteBars(T0 + 3_600_000, 2)],
      ["GET", "/v1/bars/AAA/latest?x=1", undefined],
      ["POST", "/v1/quotes/AAA?dryRun=true", [{ timestamp: T0, bid: 1, ask: 2 }]],
      ["GET", "/v1/cache?x=1", undefined],
      ["POST", "/v1/cache/AAA/compact?x=1", undefined],
      ["GET", "/v1/preferences?x=1", undefined],
      ["GET", "/v1/preferences/k?x=1", undefined],
      ["DELETE", "/v1/preferences/k?dryRun=true", undefined],
      ["PUT", "/v1/preferences/k?x=1", { value: 2 }],
      ["GET", "/v1/metrics/m/summary?since=2099-01-01", undefined],
      ["POST", "/v1/metrics/m?x=1", { value: 1 }],
      ["GET", "/v1/maintenance/stats?x=1", undefined],
    ] as const) {
      const answer = await call(f.app, method, path, json === undefined ? {} : { json });
      const error = expectError(answer, 422, "VALIDATION");
      expect(JSON.stringify(error.details)).toMatch(/x|dryRun|since/);
    }
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
    expect((await f.store.prefs.get("k"))!.value).toBe(1);
  });

  test("a repeated parameter is refused, not read as one of its values", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", minuteBars(T0, 3));
    expectError(await call(f.app, "GET", `/v1/bars/AAA?start=${T0}&start=${T0 + 60_000}`), 422, "VALIDATION");
  });
});

// ---------------------------------------------------------------------------------------------

const MINUTE = 60_000;

const DAYS = [
  { timezone: "Asia/Shanghai", day: "2024-01-15", compact: "20240115", start: Date.UTC(2024, 0, 14, 16), end: Date.UTC(2024, 0, 15, 16) },
  // Clocks go forward on 10 March 2024 in New York: a 23-hour day.
  { timezone: "America/New_York", day: "2024-03-10", compact: "20240310", start: Date.UTC(2024, 2, 10, 5), end: Date.UTC(2024, 2, 11, 4) },
];

describe("a date alone in a query string is a day in the stored zone", () => {
  for (const { timezone, day, compact, start, end } of DAYS) {
    test(`${day} / ${compact} in ${timezone}: GET and DELETE /v1/bars and GET /v1/quotes take the whole day, as the library does`, async () => {
      const f = await openApiFixture({ timezone });
      const stamps = [start - MINUTE, start, start + MINUTE, end - MINUTE, end];
      await f.store.insertBars("S", stamps.map((timestamp) => ({ timestamp, open: 1, high: 1, low: 1, close: 1 })));
      await f.store.insertQuotes("S", stamps.map((timestamp, i) => ({ timestamp, bid: i + 1 })));
      const inside = stamps.slice(1, 4);
      for (const [from, to] of [[compact, compact], [day, day], [day, compact]]) {
        const answer = await call(f.app, "GET", `/v1/bars/S?start=${from}&end=${to}`);
        expect(answer.status).toBe(200);
        expect(answer.body.map((bar: { timestamp: number }) => bar.timestamp)).toEqual(inside);
        // The library reads the same text the same way.
        expect((await f.store.getBars("S", { start: from, end: to })).map((bar) => bar.timestamp)).toEqual(inside);
      }
      const quotes = await call(f.app, "GET", `/v1/quotes/S?start=${compact}&end=${compact}`);
      expect(quotes.body.map((quote: { bid: number }) => quote.bid)).toEqual([2, 3, 4]);
      const deleted = await call(f.app, "DELETE", `/v1/bars/S?start=${compact}&end=${compact}`);
      expect(deleted.status).toBe(200);
      expect((await f.store.getBars("S")).map((bar) => bar.timestamp)).toEqual([start - MINUTE, end]);
    });
  }

  test("other digits are epoch ms; epoch seconds are a 422 naming start and saying multiply by 1000", async () => {
    const f = await openApiFixture({ timezone: "Asia/Shanghai" });
    const t = Date.UTC(2024, 0, 15, 1, 31);
    await f.store.insertBars("S", [{ timestamp: t, open: 1 }]);
    expect((await call(f.app, "GET", `/v1/bars/S?start=${t}&end=${t}`)).body).toHaveLength(1);
    const seconds = expectError(await call(f.app, "GET", `/v1/bars/S?start=${t / 1000}`), 422, "VALIDATION");
    expect(JSON.stringify(seconds)).toContain("multiply by 1000");
    expect(JSON.stringify(seconds)).toContain("start");
    const body = expectError(await call(f.app, "POST", "/v1/bars/S", { json: [{ timestamp: t / 1000, open: 1 }] }), 422, "VALIDATION");
    expect(JSON.stringify(body)).toContain("multiply by 1000");
    expect(await f.store.getBars("S")).toHaveLength(1);
  });

  test("the audit log's since/until take dates too", async () => {
    const f = await openApiFixture({ timezone: "Asia/Shanghai" });
    await f.store.prefs.set("k", 1);
    const [entry] = await f.store.audit.query();
    const today = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(entry!.timestamp);
    const answer = await call(f.app, "GET", `/v1/audit?since=${today.replaceAll("-", "")}&until=${today.replaceAll("-", "")}`);
    expect(answer.status).toBe(200);
    expect(answer.body.map((found: { id: number }) => found.id)).toEqual([entry!.id]);
  });
});
