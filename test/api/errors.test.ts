/**
 * The error shape (src/api/errors.ts): store refusals as 403 and 503, unknown routes as 404,
 * invalid input as 422 naming row and field, and 500s that say nothing about the inside
 *
 * In process through app.request(), over a real SQLite file; answers are checked against what the
 * store holds afterwards, and every refusal for the one error shape and for having written nothing.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { Database as RawDatabase } from "bun:sqlite";
import { createApp } from "../../src/api/app.ts";
import { openStore } from "../../src/mod.ts";
import { call, closeApiFixtures, expectError, minuteBars, openApiFixture, snapshot, storeThrowing, type App } from "../support/api.ts";
import { expectSameBars } from "../support/cache-invariants.ts";
import { T0, MIN } from "../support/api-routes.ts";

afterEach(closeApiFixtures);

describe("403 and 503 from the store", () => {
  test("a read-only store refuses every mutation with 403 READONLY; reads still work", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", minuteBars(T0, 3));
    const readonly = await openStore({ backend: "sqlite", path: f.dbPath, readonly: true });
    try {
      const app = createApp(readonly, { logError: () => {} });
      const before = await snapshot(f.store, ["AAA"]);
      expectError(await call(app, "POST", "/v1/bars/AAA", { json: minuteBars(T0 + 10 * MIN, 2) }), 403, "READONLY");
      expectError(await call(app, "DELETE", "/v1/bars/AAA?all=true"), 403, "READONLY");
      expectError(await call(app, "PUT", "/v1/preferences/k", { json: { value: 1 } }), 403, "READONLY");
      expect(await snapshot(f.store, ["AAA"])).toEqual(before);
      expectSameBars((await call(app, "GET", "/v1/bars/AAA")).body, minuteBars(T0, 3));
    } finally {
      await readonly.close();
    }
  });

  test("a write that cannot get the lock is a 503 with Retry-After, and is retried fine later", async () => {
    const f = await openApiFixture();
    const impatient = await openStore({ backend: "sqlite", path: f.dbPath, busyTimeoutMs: 20 });
    const holder = new RawDatabase(f.dbPath);
    try {
      const logged: unknown[] = [];
      const app = createApp(impatient, { logError: (error) => logged.push(error) });
      holder.exec("BEGIN IMMEDIATE");
      const answer = await call(app, "POST", "/v1/bars/AAA", { json: minuteBars(T0, 2) });
      const error = expectError(answer, 503, "UNAVAILABLE");
      expect(answer.headers.get("retry-after")).toBe("1");
      expect(error.details).toEqual({ storageCode: "SQLITE_BUSY" });
      expect(logged.length).toBe(1);
      holder.exec("ROLLBACK");
      expect(await f.store.getBars("AAA")).toEqual([]);
      expect((await call(app, "POST", "/v1/bars/AAA", { json: minuteBars(T0, 2) })).body).toEqual({ written: 2 });
    } finally {
      holder.close();
      await impatient.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe("404: unknown routes and records", () => {
  test("an unknown route is a 404 in the error shape", async () => {
    const f = await openApiFixture();
    const error = expectError(await call(f.app, "GET", "/v1/nothing"), 404, "NOT_FOUND");
    expect(error.message).toContain("/v1/nothing");
    expectError(await call(f.app, "PATCH", "/v1/bars/AAA"), 404, "NOT_FOUND");
    expectError(await call(f.app, "GET", "/index.html"), 404, "NOT_FOUND");
  });
});

// ---------------------------------------------------------------------------------------------

describe("422: invalid input", () => {
  const bars = minuteBars(T0, 4);

  test("a bad symbol: whitespace, 65 characters, a control character", async () => {
    const f = await openApiFixture();
    for (const symbol of ["A B", " AAA", "A".repeat(65), "A\tB", "A\u0000"]) {
      const error = expectError(await call(f.app, "GET", `/v1/bars/${encodeURIComponent(symbol)}`), 422, "VALIDATION");
      expect(error.details).toEqual([{ field: "symbol", message: expect.any(String) }]);
      expectError(await call(f.app, "POST", `/v1/bars/${encodeURIComponent(symbol)}`, { json: bars }), 422, "VALIDATION");
    }
    expect((await call(f.app, "GET", `/v1/bars/${"A".repeat(64)}`)).status).toBe(200);
    expect(await f.store.overview()).toEqual([]);
  });

  test("a range whose start is after its end", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", bars);
    for (const path of [`/v1/bars/AAA?start=${T0 + MIN}&end=${T0}`, "/v1/bars/AAA?start=2024-02-01&end=2024-01-01&format=csv", `/v1/quotes/AAA?start=${T0 + 1}&end=${T0}`]) {
      const error = expectError(await call(f.app, "GET", path), 422, "VALIDATION");
      expect((error.details as { field: string }[]).map((issue) => issue.field)).toContain("start");
    }
  });

  test("an interval that does not exist, a bad order, limit or timestamp", async () => {
    const f = await openApiFixture();
    for (const [query, field] of [
      ["interval=7m", "interval"],
      ["order=sideways", "order"],
      ["limit=0", "limit"],
      ["limit=-3", "limit"],
      ["limit=1.5", "limit"],
      ["start=yesterday", "start"],
      ["format=xml", "format"],
      ["barTimestamp=middle", "barTimestamp"],
    ] as const) {
      const error = expectError(await call(f.app, "GET", `/v1/bars/AAA?${query}`), 422, "VALIDATION");
      expect(error.details).toEqual([{ field, message: expect.any(String) }]);
    }
  });

  test("an unknown query key (startTime for start) is refused, never ignored", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", bars);
    const error = expectError(await call(f.app, "GET", `/v1/bars/AAA?startTime=${T0 + MIN}`), 422, "VALIDATION");
    expect(error.details).toEqual([{ field: "startTime", message: expect.any(String) }]);
    expect(error.message).toContain("startTime");
  });

  test("an invalid bar (low above high) names its row and field; the batch writes nothing", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", bars.slice(0, 1));
    const before = await snapshot(f.store, ["AAA"]);
    const bad = { ...bars[2]!, low: 99, high: 98 };
    const error = expectError(await call(f.app, "POST", "/v1/bars/AAA", { json: [bars[1]!, bad, bars[3]!] }), 422, "VALIDATION");
    const details = error.details as { row?: number; field?: string; message: string }[];
    expect(details).toContainEqual({ row: 1, field: "low", message: expect.any(String) });
    expect(details.every((issue) => issue.row === 1)).toBe(true);
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
  });

  test("a JSON bar with a wrong type or an unknown field names its row and field", async () => {
    const f = await openApiFixture();
    const before = await snapshot(f.store, ["AAA"]);
    const wrongType = expectError(await call(f.app, "POST", "/v1/bars/AAA", { json: [bars[0]!, { ...bars[1]!, open: "1" }] }), 422, "VALIDATION");
    expect(wrongType.details).toEqual([{ row: 1, field: "open", message: expect.any(String) }]);
    const unknown = expectError(await call(f.app, "POST", "/v1/bars/AAA", { json: [{ ...bars[0]!, vol: 3 }] }), 422, "VALIDATION");
    expect(unknown.details).toEqual([{ row: 0, field: "vol", message: expect.any(String) }]);
    expectError(await call(f.app, "POST", "/v1/bars/AAA", { json: { bars } }), 422, "VALIDATION");
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------

describe("500: unexpected errors", () => {
  const leak = "SELECT secret FROM x";

  function expectOpaque(answer: Awaited<ReturnType<typeof call>>) {
    const error = expectError(answer, 500, "INTERNAL");
    expect(answer.text).not.toContain("SELECT");
    expect(answer.text).not.toContain("secret");
    expect(answer.text).not.toMatch(/\n\s+at /);
    expect(answer.text).not.toContain(".ts");
    return error;
  }

  test("a store error says nothing about the inside; logError receives it", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", minuteBars(T0, 3));
    const failure = new Error(leak);
    const logged: { error: unknown; path: string }[] = [];
    const app: App = createApp(storeThrowing(f.store, "getBars", failure), { logError: (error, c) => logged.push({ error, path: c.req.path }) });
    const error = expectOpaque(await call(app, "GET", "/v1/bars/AAA"));
    expect(error.details).toBeNull();
    expect(logged).toEqual([{ error: failure, path: "/v1/bars/AAA" }]);
    // Other routes of the same app still work.
    expect((await call(app, "GET", "/v1/bars/AAA/latest")).status).toBe(200);
  });

  test("also when the failure comes from a streamed export's first read, or from a write", async () => {
    const f = await openApiFixture();
    const failure = new Error(leak);
    const logged: unknown[] = [];
    const streaming = createApp(storeThrowing(f.store, "iterateBars", failure), { logError: (error) => logged.push(error) });
    expectOpaque(await call(streaming, "GET", "/v1/bars/AAA?format=csv"));
    expect(logged).toEqual([failure]);

    const before = await snapshot(f.store, ["AAA"]);
    const writes = createApp(storeThrowing(f.store, "insertBars", failure), { logError: (error) => logged.push(error) });
    expectOpaque(await call(writes, "POST", "/v1/bars/AAA", { json: minuteBars(T0, 2) }));
    expect(logged).toEqual([failure, failure]);
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
  });
});

describe("error answers are bounded", () => {
  test("a JSON body of 20,000 bad rows is a 422 listing the first 100 issues and the total; nothing written", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "POST", "/v1/bars/ZEROS", { json: new Array(20_000).fill(0) });
    const error = expectError(answer, 422, "VALIDATION") as unknown as { details: { row: number }[] };
    expect(error.details).toHaveLength(100);
    expect(error.details.map((issue) => issue.row)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect((answer.body as { error: { total: number } }).error.total).toBe(20_000);
    expect(answer.text.length).toBeLessThan(20_000);
    expect(await f.store.overview()).toEqual([]);
  });

  test("the store's own refusal of 300 rows (daily bars off midnight) is capped the same way", async () => {
    const f = await openApiFixture();
    const bars = Array.from({ length: 300 }, (_, i) => ({ timestamp: Date.UTC(2024, 0, 2 + i, 9), open: 1, high: 1, low: 1, close: 1 }));
    const answer = await call(f.app, "POST", "/v1/bars/OFF?interval=1d", { json: bars });
    const error = expectError(answer, 422, "VALIDATION") as unknown as { details: unknown[] };
    expect(error.details).toHaveLength(100);
    expect((answer.body as { error: { total: number } }).error.total).toBe(300);
  });

  test("a CSV upload of 1,500 bad rows lists the first 100 with the total (every row was read); nothing written", async () => {
    const f = await openApiFixture();
    const rows = Array.from({ length: 1_500 }, (_, i) => `${new Date(Date.UTC(2024, 0, 2, 1, 31) + i * 60_000).toISOString()},x,1,1,1,1,y`);
    const answer = await call(f.app, "POST", "/v1/bars/CSVBAD", { csv: `timestamp,open,high,low,close,volume,amount\n${rows.join("\n")}\n` });
    const error = expectError(answer, 422, "VALIDATION") as unknown as { details: { row: number; field: string; message: string }[] };
    expect(error.details).toHaveLength(100);
    expect(error.details.slice(0, 2)).toEqual([
      { row: 0, field: "open", message: 'not a number: "x"' },
      { row: 1, field: "open", message: 'not a number: "x"' },
    ]);
    expect(error.details.at(-1)!.row).toBe(99);
    expect((answer.body as { error: { total: number } }).error.total).toBe(1_500);
    expect(await f.store.overview()).toEqual([]);
  });

  test("under the cap, the answer is as it was: every issue and no total", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "POST", "/v1/bars/FEW", { json: [0, 0, 0] });
    expect(expectError(answer, 422, "VALIDATION").details).toHaveLength(3);
    expect((answer.body as { error: Record<string, unknown> }).error).not.toHaveProperty("total");
  });
});
