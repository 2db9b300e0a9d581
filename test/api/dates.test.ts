/**
 * The one date rule and the stored settings through the HTTP API (in process, over a real
 * SQLite file): `?start=20240115` is a day in the stored zone, not epoch ms; a date as `end` is
 * the whole day; other digits are epoch ms, and epoch seconds are refused. The API answers what
 * the library answers for the same text.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createApp } from "../../src/api/app.ts";
import { openStore } from "../../src/mod.ts";
import { call, closeApiFixtures, expectError, openApiFixture } from "../support/api.ts";

afterEach(closeApiFixtures);

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

test("/health reports the settings the database stores, to a store opened without being told them", async () => {
  const f = await openApiFixture({ timezone: "Asia/Shanghai" });
  await f.store.updateSettings({ calendar: "XSHG" });
  await f.store.close();
  const store = await openStore({ backend: "sqlite", path: f.dbPath });
  try {
    const app = createApp(store, { logError: () => {} });
    const health = await call(app, "GET", "/health");
    expect(health.body).toMatchObject({ timezone: "Asia/Shanghai", barTimestamp: "start", calendar: "XSHG" });
  } finally {
    await store.close();
  }
});
