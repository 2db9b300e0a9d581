/**
 * The query schemas (src/api/schemas.ts) are strict: every route refuses a query parameter it
 * does not know, and a repeated one, with a 422 naming it, and changes nothing. In process
 * through app.request(), over a real SQLite file.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { call, closeApiFixtures, expectError, minuteBars, openApiFixture, snapshot } from "../support/api.ts";

afterAll(closeApiFixtures);
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
