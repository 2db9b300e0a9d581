/**
 * What review found and the fixes hold: every route refuses a query parameter it does not know,
 * a CORS preflight passes the Host check and carries the secure headers, the server's own bind
 * address is an allowed host, and a stream that fails part-way reaches the configured logger.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createApp } from "../../src/api/app.ts";
import { openStore, type Store } from "../../src/mod.ts";
import { startServer } from "../../src/api/server.ts";
import { call, closeApiFixtures, expectError, minuteBars, openApiFixture, snapshot } from "../support/api.ts";
import { tempDir } from "../support/files.ts";

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

describe("CORS and the Host check", () => {
  test("a preflight with a foreign Host is refused; an allowed one gets CORS and the secure headers", async () => {
    const f = await openApiFixture({ api: { corsOrigins: ["http://app.local"] } });
    const headers = { origin: "http://app.local", "access-control-request-method": "GET" };
    const refused = await call(f.app, "OPTIONS", "/v1/symbols", { headers: { ...headers, host: "evil.example" } });
    expectError(refused, 403, "FORBIDDEN_HOST");
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    const preflight = await call(f.app, "OPTIONS", "/v1/symbols", { headers });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("http://app.local");
    expect(preflight.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("the server's own address", () => {
  test("a server bound to 127.0.0.2 answers requests that name it", async () => {
    const dir = tempDir("tradelite-bind-");
    const store = await openStore({ backend: "sqlite", path: dir.file("t.db") });
    const running = startServer(store, { hostname: "127.0.0.2", port: 0 });
    try {
      expect(running.url).toStartWith("http://127.0.0.2:");
      const answer = await fetch(`${running.url}/health`);
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { status: string }).status).toBe("ok");
    } finally {
      await running.stop();
      await store.close();
      dir.cleanup();
    }
  });

  test("an IPv6 loopback server prints a usable URL", async () => {
    const dir = tempDir("tradelite-bind6-");
    const store = await openStore({ backend: "sqlite", path: dir.file("t.db") });
    const running = startServer(store, { hostname: "[::1]", port: 0 });
    try {
      expect(running.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
      expect((await fetch(`${running.url}/health`)).status).toBe(200);
    } finally {
      await running.stop();
      await store.close();
      dir.cleanup();
    }
  });
});

describe("a stream that fails part-way", () => {
  test("is cut (never ended as if complete), and the error reaches the configured logger", async () => {
    const f = await openApiFixture();
    const bars = minuteBars(T0, 5);
    await f.store.insertBars("AAA", bars);
    const logged: unknown[] = [];
    // A store whose iteration yields three bars, then fails: the answer has started by then.
    const failing: Store = {
      ...f.store,
      withActor: () => failing,
      async *iterateBars(symbol, query) {
        let n = 0;
        for await (const bar of f.store.iterateBars(symbol, query)) {
          if (++n > 3) throw new Error("disk vanished");
          yield bar;
        }
      },
    };
    const app = createApp(failing, { logError: (error) => logged.push(error) });
    const answer = await app.request("/v1/bars/AAA?format=csv");
    expect(answer.status).toBe(200);
    await expect(answer.text()).rejects.toBeDefined();
    expect(logged.length).toBe(1);
    expect((logged[0] as Error).message).toBe("disk vanished");
  });
});
