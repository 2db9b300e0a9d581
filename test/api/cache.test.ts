/**
 * /v1/cache (src/api/cache.ts) over a real SessionCache
 *
 * In process through app.request(), over a real SQLite file; answers are checked against what the
 * store holds afterwards, and every refusal for the one error shape and for having written nothing.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { call, closeApiFixtures, expectError, minuteBars, openApiFixture, snapshot } from "../support/api.ts";
import { cacheFileBars, expectSameBars } from "../support/cache-invariants.ts";
import { T0, MIN, csvOf } from "../support/api-routes.ts";

afterEach(closeApiFixtures);

describe("/v1/cache", () => {
  const bars = minuteBars(T0, 8);

  test("POST (JSON) stores through the cache: the file and the database both have the bars", async () => {
    const f = await openApiFixture({ withCache: true });
    const answer = await call(f.app, "POST", "/v1/cache/AAA", { json: bars.slice(0, 5) });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ written: 5, compacted: false });
    expectSameBars(cacheFileBars(f.cache!, "AAA"), bars.slice(0, 5));
    expectSameBars(await f.store.getBars("AAA"), bars.slice(0, 5));
    expect((await f.cache!.stats("AAA"))!.row_count).toBe(5);
  });

  test("GET /v1/cache lists every cached symbol's metadata, as the cache has it", async () => {
    const f = await openApiFixture({ withCache: true });
    expect((await call(f.app, "GET", "/v1/cache")).body).toEqual([]);
    await call(f.app, "POST", "/v1/cache/AAA", { json: bars.slice(0, 3) });
    await call(f.app, "POST", "/v1/cache/BBB", { json: bars });
    const answer = await call(f.app, "GET", "/v1/cache");
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(await f.cache!.list());
    const rows = Object.fromEntries((answer.body as { symbol: string; row_count: number; file_path: string }[]).map((row) => [row.symbol, row]));
    expect(Object.keys(rows).sort()).toEqual(["AAA", "BBB"]);
    expect(rows.AAA!.row_count).toBe(3);
    expect(rows.BBB!.row_count).toBe(8);
    expect(existsSync(join(f.cacheDir, rows.BBB!.file_path))).toBe(true);
  });

  test("GET /v1/cache/{symbol} reads bars through the cache, with a range", async () => {
    const f = await openApiFixture({ withCache: true });
    await f.cache!.storeBars("AAA", bars);
    const all = await call(f.app, "GET", "/v1/cache/AAA");
    expect(all.status).toBe(200);
    expectSameBars(all.body, bars);
    const ranged = await call(f.app, "GET", `/v1/cache/AAA?start=${T0 + 2 * MIN}&end=${T0 + 3 * MIN}`);
    expectSameBars(ranged.body, bars.slice(2, 4));
    expect(ranged.body).toEqual(await f.cache!.getBars("AAA", { start: T0 + 2 * MIN, end: T0 + 3 * MIN }));
    expectError(await call(f.app, "GET", "/v1/cache/AAA?limit=2"), 422, "VALIDATION");
  });

  test("POST (text/csv) stores the uploaded CSV through the cache", async () => {
    const f = await openApiFixture({ withCache: true });
    const answer = await call(f.app, "POST", "/v1/cache/AAA", { csv: csvOf(bars) });
    expect({ status: answer.status, text: answer.text.slice(0, 300) }).toEqual({ status: 200, text: JSON.stringify({ written: 8, compacted: false, file: { profile: "cache", encoding: "utf-8", conversions: [], assumed: [], ignored: [] } }) });
    expectSameBars(cacheFileBars(f.cache!, "AAA"), bars);
    expectSameBars(await f.store.getBars("AAA"), bars);
  });

  test("POST compact rewrites the file: later writes win, counters reset", async () => {
    const f = await openApiFixture({ withCache: true });
    await call(f.app, "POST", "/v1/cache/AAA", { json: bars.slice(0, 5) });
    const changed = { ...bars[4]!, close: bars[4]!.open, volume: 7 };
    await call(f.app, "POST", "/v1/cache/AAA", { json: [changed, ...bars.slice(5)] });
    // The file holds the old and the new bar 4 until it is compacted.
    expect(cacheFileBars(f.cache!, "AAA").length).toBe(9);
    const before = (await f.cache!.stats("AAA"))!;
    expect(before.writes_since_compaction).toBe(2);

    const answer = await call(f.app, "POST", "/v1/cache/AAA/compact");
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ rowsBefore: 9, rowsAfter: 8, bytesBefore: before.size_bytes, bytesAfter: expect.any(Number) });
    const after = (await f.cache!.stats("AAA"))!;
    expect(answer.body.bytesAfter).toBe(after.size_bytes);
    expect(after.row_count).toBe(8);
    expect(after.writes_since_compaction).toBe(0);
    expect(after.last_compacted).not.toBeNull();
    const expected = [...bars.slice(0, 4), changed, ...bars.slice(5)];
    expectSameBars(cacheFileBars(f.cache!, "AAA"), expected);
    expectSameBars((await call(f.app, "GET", "/v1/cache/AAA")).body, expected);
  });

  test("compact of a symbol without a cache file is a 404 and creates nothing", async () => {
    const f = await openApiFixture({ withCache: true });
    expectError(await call(f.app, "POST", "/v1/cache/NOPE/compact"), 404, "NOT_FOUND");
    expect(await f.cache!.stats("NOPE")).toBeNull();
    expect(readdirSync(f.cacheDir)).toEqual([]);
  });

  test("an invalid bar (low above high) is a 422 naming row and field; file and database unchanged", async () => {
    const f = await openApiFixture({ withCache: true });
    await call(f.app, "POST", "/v1/cache/AAA", { json: bars.slice(0, 3) });
    const fileBefore = cacheFileBars(f.cache!, "AAA");
    const rowBefore = await f.cache!.stats("AAA");
    const before = await snapshot(f.store, ["AAA"]);
    const error = expectError(
      await call(f.app, "POST", "/v1/cache/AAA", { json: [bars[3]!, { ...bars[4]!, low: bars[4]!.high! + 1 }] }),
      422,
      "VALIDATION",
    );
    expect(error.details).toContainEqual({ row: 1, field: "low", message: expect.any(String) });
    expectSameBars(cacheFileBars(f.cache!, "AAA"), fileBefore);
    expect(await f.cache!.stats("AAA")).toEqual(rowBefore);
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
  });

  test("501 on every cache route when the app has no cache", async () => {
    const f = await openApiFixture();
    const before = await snapshot(f.store, ["AAA"]);
    for (const [method, path, json] of [
      ["GET", "/v1/cache", undefined],
      ["GET", "/v1/cache/AAA", undefined],
      ["POST", "/v1/cache/AAA", bars],
      ["POST", "/v1/cache/AAA/compact", undefined],
    ] as const) {
      expectError(await call(f.app, method, path, json === undefined ? {} : { json }), 501, "NOT_IMPLEMENTED");
    }
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
  });
});
