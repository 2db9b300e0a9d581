/**
 * GET /health and GET /v1/symbols (src/api/symbols.ts)
 *
 * In process through app.request(), over a real SQLite file; answers are checked against what the
 * store holds afterwards, and every refusal for the one error shape and for having written nothing.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { call, closeApiFixtures, minuteBars, openApiFixture } from "../support/api.ts";
import { T0, MIN } from "../support/api-routes.ts";

afterEach(closeApiFixtures);

describe("GET /health and GET /v1/symbols", () => {
  test("health names the backend, the store's timezone, the database file and its journal mode", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "GET", "/health");
    expect(answer.status).toBe(200);
    const info = await f.store.maintenance.info();
    expect(answer.body).toEqual({
      status: "ok",
      version: expect.any(String),
      backend: "sqlite",
      timezone: f.store.timezone,
      barTimestamp: "start",
      calendar: null,
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
