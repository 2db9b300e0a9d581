import { describe, expect, test } from "bun:test";
import { constantTimeEquals, hostName } from "../../src/api/security.ts";
import { isLoopbackHost, resolveServerSettings } from "../../src/config.ts";
import { ValidationError } from "../../src/domain/errors.ts";

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
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((issue) => issue.field).sort()).toEqual([
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
