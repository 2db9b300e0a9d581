/**
 * What keeps the local API local (src/api/security.ts): the constant-time token comparison, the
 * bearer token on every route but /health (401), the Host allowlist against DNS rebinding (403),
 * the token's name as the audit log's actor, CORS only for listed origins and the secure headers.
 * Routes in process through app.request(), over a real SQLite file.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { constantTimeEquals, hostName } from "../../src/api/security.ts";
import { isLoopbackHost, resolveServerSettings } from "../../src/config.ts";
import { ValidationError } from "../../src/domain/errors.ts";
import { createApp } from "../../src/api/app.ts";
import { LOCAL_ACTOR } from "../../src/api/security.ts";
import type { Store } from "../../src/mod.ts";
import { call, closeApiFixtures, expectError, minuteBars, openApiFixture, snapshot, type App } from "../support/api.ts";
import { cacheFileBars, expectSameBars } from "../support/cache-invariants.ts";
import { T0, MIN, TOKEN, BOB_TOKEN, TOKENS, csvOf, auditSince, lastAuditId } from "../support/api-routes.ts";

afterEach(closeApiFixtures);

describe("constantTimeEquals", () => {
  const known = "a-long-secret-token-1";
  test("equal strings are equal; any difference is not", () => {
    expect(constantTimeEquals(known, known)).toBe(true);
    expect(constantTimeEquals(`${known}`.slice(0), known)).toBe(true);
    for (const given of ["", "a", known.slice(0, -1), `${known}x`, `x${known.slice(1)}`, known.toUpperCase(), `${known.slice(0, -1)}2`]) {
      expect(constantTimeEquals(given, known)).toBe(false);
    }
  });
  test("a given token that is a prefix padded with NUL is still refused (no NaN or zero folding)", () => {
    expect(constantTimeEquals(`${known}\u0000`, known)).toBe(false);
    expect(constantTimeEquals(known.slice(0, 5), known)).toBe(false);
    expect(constantTimeEquals("\u0000".repeat(known.length), known)).toBe(false);
  });
  test("the given token is read only inside itself, and as often whatever its length", () => {
    // A string-like that records each index read: a read past the end is JavaScriptCore's slow
    // path, which made a shorter token answer at a different speed.
    for (const length of [1, 5, known.length - 1, known.length, known.length + 7, 200]) {
      const reads: number[] = [];
      const given = { length, charCodeAt: (i: number) => (reads.push(i), 97) } as unknown as string;
      expect(constantTimeEquals(given, known)).toBe(false);
      expect(reads).toHaveLength(known.length);
      expect(reads.every((i) => i >= 0 && i < length)).toBe(true);
    }
  });
});

describe("hostName", () => {
  test("drops the port, lower-cases, keeps IPv6 brackets", () => {
    expect(hostName("LocalHost:8787")).toBe("localhost");
    expect(hostName("127.0.0.1")).toBe("127.0.0.1");
    expect(hostName("[::1]:8787")).toBe("[::1]");
    expect(hostName(" evil.example:80 ")).toBe("evil.example");
  });
});

describe("resolveServerSettings", () => {
  test("defaults: loopback, port 8787, no token, 64 MiB bodies, 10 s to stop", () => {
    expect(resolveServerSettings({})).toEqual({
      host: "127.0.0.1",
      port: 8787,
      tokens: [],
      allowedHosts: [],
      corsOrigins: [],
      maxBodyBytes: 64 * 1024 * 1024,
      shutdownGraceMs: 10_000,
      timezone: "UTC",
      barTimestamp: "start",
      backupLimits: { maxCount: 20, maxBytes: 50 * 1024 ** 3 },
      queueDeadlineMs: 5_000,
    });
  });
  test("reads every variable", () => {
    const settings = resolveServerSettings({
      TRADELITE_HOST: "0.0.0.0",
      TRADELITE_PORT: "0",
      TRADELITE_TOKEN: "0123456789abcdef0123",
      TRADELITE_TOKEN_NAME: "alice",
      TRADELITE_ALLOWED_HOSTS: "box.lan, trader.local",
      TRADELITE_CORS_ORIGINS: "http://localhost:3000",
      TRADELITE_MAX_BODY: "1000",
      TRADELITE_SHUTDOWN_GRACE_MS: "0",
      TRADELITE_TIMEZONE: "Asia/Shanghai",
      TRADELITE_BAR_TIMESTAMP: "end",
      TRADELITE_BACKUP_MAX_COUNT: "3",
      TRADELITE_BACKUP_MAX_BYTES: "1000000",
      TRADELITE_QUEUE_DEADLINE_MS: "250",
    });
    expect(settings).toEqual({
      host: "0.0.0.0",
      port: 0,
      tokens: [{ name: "alice", token: "0123456789abcdef0123" }],
      allowedHosts: ["box.lan", "trader.local"],
      corsOrigins: ["http://localhost:3000"],
      maxBodyBytes: 1000,
      shutdownGraceMs: 0,
      timezone: "Asia/Shanghai",
      barTimestamp: "end",
      backupLimits: { maxCount: 3, maxBytes: 1_000_000 },
      queueDeadlineMs: 250,
    });
  });
  test("a non-loopback host without a token, a bad port, size, grace, timezone or bar stamp, and a short token are each named", () => {
    let error: unknown;
    try {
      resolveServerSettings({
        TRADELITE_HOST: "192.168.1.5",
        TRADELITE_PORT: "70000",
        TRADELITE_MAX_BODY: "-1",
        TRADELITE_SHUTDOWN_GRACE_MS: "1e3",
        TRADELITE_TIMEZONE: "Mars/Olympus",
        TRADELITE_BAR_TIMESTAMP: "middle",
        TRADELITE_BACKUP_MAX_COUNT: "0",
        TRADELITE_BACKUP_MAX_BYTES: "lots",
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((issue) => issue.field).sort()).toEqual([
      "TRADELITE_BACKUP_MAX_BYTES",
      "TRADELITE_BACKUP_MAX_COUNT",
      "TRADELITE_BAR_TIMESTAMP",
      "TRADELITE_HOST",
      "TRADELITE_MAX_BODY",
      "TRADELITE_PORT",
      "TRADELITE_SHUTDOWN_GRACE_MS",
      "TRADELITE_TIMEZONE",
    ]);
    expect(() => resolveServerSettings({ TRADELITE_SHUTDOWN_GRACE_MS: "3600001" })).toThrow(ValidationError);
    expect(() => resolveServerSettings({ TRADELITE_TOKEN: "short" })).toThrow(ValidationError);
    expect(() => resolveServerSettings({ TRADELITE_TOKEN: "has a space in it, long enough" })).toThrow(ValidationError);
  });
  test("loopback hosts", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) expect(isLoopbackHost(host)).toBe(true);
    for (const host of ["0.0.0.0", "::", "192.168.1.5", "example.com", "128.0.0.1"]) expect(isLoopbackHost(host)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------

describe("401: bearer tokens", () => {
  test("with tokens configured: missing and wrong tokens are refused, /health is open, the right token works", async () => {
    const f = await openApiFixture({ api: { tokens: TOKENS } });
    const bars = minuteBars(T0, 3);
    const before = await snapshot(f.store, ["AAA"]);

    const missing = await call(f.app, "POST", "/v1/bars/AAA", { json: bars });
    expectError(missing, 401, "UNAUTHORIZED");
    expect(missing.headers.get("www-authenticate")).toStartWith("Bearer");
    expectError(await call(f.app, "POST", "/v1/bars/AAA", { json: bars, token: "wrong-token-of-enough-length" }), 401, "UNAUTHORIZED");
    // Without the "Bearer" scheme no bearer token was given: a 401 with error="invalid_request".
    const schemeless = await call(f.app, "POST", "/v1/bars/AAA", { json: bars, headers: { authorization: TOKEN } });
    expectError(schemeless, 401, "UNAUTHORIZED");
    expect(schemeless.headers.get("www-authenticate")).toContain('error="invalid_request"');
    expectError(await call(f.app, "POST", "/v1/bars/AAA", { json: bars, token: `${TOKEN}x` }), 401, "UNAUTHORIZED");
    expectError(await call(f.app, "GET", "/v1/symbols"), 401, "UNAUTHORIZED");
    expectError(await call(f.app, "GET", "/openapi.json"), 401, "UNAUTHORIZED");
    expectError(await call(f.app, "GET", "/v1/nowhere"), 401, "UNAUTHORIZED");
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);

    const health = await call(f.app, "GET", "/health");
    expect(health.status).toBe(200);
    expect(health.body.status).toBe("ok");

    const ok = await call(f.app, "POST", "/v1/bars/AAA", { json: bars, token: TOKEN });
    expect(ok.body).toEqual({ written: 3 });
    expectSameBars(await f.store.getBars("AAA"), bars);
    expectSameBars((await call(f.app, "GET", "/v1/bars/AAA", { token: BOB_TOKEN })).body, bars);
  });

  test("createApp refuses a short token or one with whitespace", async () => {
    const f = await openApiFixture();
    expect(() => f.rebuild({ tokens: [{ name: "x", token: "short" }] })).toThrow(TypeError);
    expect(() => f.rebuild({ tokens: [{ name: "x", token: "a long token with spaces" }] })).toThrow(TypeError);
  });
});

// ---------------------------------------------------------------------------------------------

describe("403: Host allowlist (DNS rebinding)", () => {
  test("a Host that is not loopback or allowed is refused before anything runs", async () => {
    const f = await openApiFixture();
    const before = await snapshot(f.store, ["AAA"]);
    for (const host of ["evil.example", "localhost.evil.example", "evil.example:8787", "127.0.0.2"]) {
      const error = expectError(await call(f.app, "GET", "/health", { headers: { host } }), 403);
      expect(error.code).toBe("FORBIDDEN_HOST");
      expectError(await call(f.app, "POST", "/v1/bars/AAA", { json: minuteBars(T0, 1), headers: { host } }), 403, "FORBIDDEN_HOST");
    }
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
    for (const host of ["localhost", "localhost:8787", "127.0.0.1:8787", "[::1]:8787", "LOCALHOST"]) {
      expect((await call(f.app, "GET", "/health", { headers: { host } })).status).toBe(200);
    }
  });

  test("allowedHosts admits the hosts it names (with any port), and only those", async () => {
    const f = await openApiFixture({ api: { allowedHosts: ["trading.lan"] } });
    expect((await call(f.app, "GET", "/health", { headers: { host: "trading.lan:8787" } })).status).toBe(200);
    expect((await call(f.app, "GET", "/v1/symbols", { headers: { host: "trading.lan" } })).status).toBe(200);
    expectError(await call(f.app, "GET", "/health", { headers: { host: "evil.example" } }), 403, "FORBIDDEN_HOST");
    expectError(await call(f.app, "GET", "/health", { headers: { host: "trading.lan.evil.example" } }), 403, "FORBIDDEN_HOST");
  });
});

// ---------------------------------------------------------------------------------------------

describe("the audit log names the caller", () => {
  async function mutations(app: App, store: Store, token?: string) {
    const auth = token === undefined ? {} : { token };
    const bars = minuteBars(T0, 4);
    const steps: [string, () => Promise<unknown>][] = [
      ["bars.insert", () => call(app, "POST", "/v1/bars/AAA", { json: bars, ...auth })],
      ["bars.delete", () => call(app, "DELETE", `/v1/bars/AAA?start=${T0 + 3 * MIN}`, auth)],
      ["quotes.insert", () => call(app, "POST", "/v1/quotes/AAA", { json: [{ timestamp: T0, last: 1 }], ...auth })],
      ["prefs.set", () => call(app, "PUT", "/v1/preferences/theme", { json: { value: "dark" }, ...auth })],
      ["prefs.delete", () => call(app, "DELETE", "/v1/preferences/theme", auth)],
      ["artifacts.register", () => call(app, "POST", "/v1/artifacts", { json: { name: "m", version: "1", path: "m.bin", sha256: "e".repeat(64), size: 1 }, ...auth })],
      // With write-through (the default) a cache write is a live append: it grows the symbol's
      // audit rollup, which the compaction's entry then carries under the caller's name.
      ["cache.compact", async () => {
        const written = (await call(app, "POST", "/v1/cache/CCC", { json: bars, ...auth })) as { status: number };
        expect(written.status).toBe(200);
        return call(app, "POST", "/v1/cache/CCC/compact", auth);
      }],
      ["maintenance.optimize", () => call(app, "POST", "/v1/maintenance/optimize", auth)],
    ];
    const seen: { action: string; actors: string[]; actions: string[] }[] = [];
    for (const [action, run] of steps) {
      const after = await lastAuditId(store);
      const answer = (await run()) as { status: number; text: string };
      expect({ action, status: answer.status, text: answer.text.slice(0, 200) }).toEqual({ action, status: 200, text: expect.any(String) });
      const entries = await auditSince(store, after);
      seen.push({ action, actors: [...new Set(entries.map((e) => e.actor))], actions: entries.map((e) => e.action) });
    }
    return seen;
  }

  test("the token's name for every mutation made with a token", async () => {
    const f = await openApiFixture({ withCache: true, api: { tokens: TOKENS } });
    for (const { action, actors, actions } of await mutations(f.app, f.store, TOKEN)) {
      expect({ action, actions: actions.includes(action) }).toEqual({ action, actions: true });
      expect({ action, actors }).toEqual({ action, actors: ["alice"] });
    }
    // Another token, another name: the app keeps one view per caller.
    const after = await lastAuditId(f.store);
    await call(f.app, "PUT", "/v1/preferences/bob", { json: { value: 1 }, token: BOB_TOKEN });
    await call(f.app, "PUT", "/v1/preferences/alice", { json: { value: 1 }, token: TOKEN });
    expect((await auditSince(f.store, after)).map((e) => [e.action, e.entity, e.actor])).toEqual([
      ["prefs.set", "bob", "bob"],
      ["prefs.set", "alice", "alice"],
    ]);
    expect((await call(f.app, "GET", "/v1/audit?actor=bob", { token: TOKEN })).body).toEqual(await f.store.audit.query({ actor: "bob" }));
    expect((await f.store.audit.verify()).ok).toBe(true);
  });

  test(`"${LOCAL_ACTOR}" for every mutation when no tokens are configured`, async () => {
    const f = await openApiFixture({ withCache: true });
    expect(LOCAL_ACTOR).toBe("local");
    for (const { action, actors, actions } of await mutations(f.app, f.store)) {
      expect({ action, actions: actions.includes(action) }).toEqual({ action, actions: true });
      expect({ action, actors }).toEqual({ action, actors: ["local"] });
    }
  });

  test("cache.store (a cache without write-through) names the token", async () => {
    const f = await openApiFixture({ withCache: true, cacheOptions: { writeThrough: false }, api: { tokens: TOKENS } });
    const after = await lastAuditId(f.store);
    const answer = await call(f.app, "POST", "/v1/cache/CCC", { json: minuteBars(T0, 3), token: BOB_TOKEN });
    expect(answer.body).toEqual({ written: 3, compacted: false });
    const entries = await auditSince(f.store, after);
    expect(entries.filter((e) => e.action === "cache.store").map((e) => [e.entity, e.actor])).toEqual([["CCC", "bob"]]);
    expect([...new Set(entries.map((e) => e.actor))]).toEqual(["bob"]);
    expect(await f.store.getBars("CCC")).toEqual([]); // nothing written through
  });

  test("a CSV cache upload made with a token names the token (in the symbol's audit rollup)", async () => {
    const f = await openApiFixture({ withCache: true, api: { tokens: TOKENS } });
    const after = await lastAuditId(f.store);
    const answer = await call(f.app, "POST", "/v1/cache/CSV", { csv: csvOf(minuteBars(T0, 3)), token: TOKEN });
    expect({ status: answer.status, text: answer.text.slice(0, 200) }).toEqual({ status: 200, text: expect.any(String) });
    await f.store.audit.rollUp();
    const entries = await auditSince(f.store, after);
    expect(entries.filter((e) => e.action === "bars.rollup").map((e) => [e.entity, e.actor])).toEqual([["CSV", "alice"]]);
    expect([...new Set(entries.map((e) => e.actor))]).toEqual(["alice"]);
    expectSameBars(cacheFileBars(f.cache!, "CSV"), minuteBars(T0, 3));
  });
});

// ---------------------------------------------------------------------------------------------

describe("browser-facing headers", () => {
  test("CORS headers only for an Origin that corsOrigins lists", async () => {
    const f = await openApiFixture({ api: { corsOrigins: ["http://app.example"] } });
    const listed = await call(f.app, "GET", "/v1/symbols", { headers: { origin: "http://app.example" } });
    expect(listed.status).toBe(200);
    expect(listed.headers.get("access-control-allow-origin")).toBe("http://app.example");
    const other = await call(f.app, "GET", "/v1/symbols", { headers: { origin: "http://evil.example" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    const preflight = await call(f.app, "OPTIONS", "/v1/bars/AAA", {
      headers: { origin: "http://app.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("http://app.example");
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    const badPreflight = await call(f.app, "OPTIONS", "/v1/bars/AAA", { headers: { origin: "http://evil.example", "access-control-request-method": "POST" } });
    expect(badPreflight.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("no CORS headers at all without corsOrigins", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "GET", "/v1/symbols", { headers: { origin: "http://app.example" } });
    expect(answer.status).toBe(200);
    expect([...answer.headers.keys()].filter((name) => name.startsWith("access-control-"))).toEqual([]);
  });

  test("secure headers on answers and on errors", async () => {
    const f = await openApiFixture();
    for (const answer of [
      await call(f.app, "GET", "/health"),
      await call(f.app, "GET", "/v1/bars/AAA?format=csv"),
      await call(f.app, "GET", "/v1/nothing"),
      await call(f.app, "GET", "/v1/bars/AAA?interval=7m"),
      await call(f.app, "GET", "/health", { headers: { host: "evil.example" } }),
      await call(f.app, "POST", "/v1/bars/AAA", { body: "x", headers: { "content-type": "text/plain" } }),
    ]) {
      expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
      expect(answer.headers.get("x-frame-options")).toBe("SAMEORIGIN");
      expect(answer.headers.get("referrer-policy")).toBe("no-referrer");
    }
  });
});

// ---------------------------------------------------------------------------------------------

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
