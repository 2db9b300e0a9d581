/**
 * Input the API refuses before any route reads it (src/api/security.ts, src/api/body.ts), through
 * a real `serve` process on a loopback port: bytes that are not UTF-8 in a JSON or calendar
 * body, a path or query that does not percent-decode, an HTTP/1.0 request without Host. Each is
 * a 400 in the error shape naming where, nothing is stored, and nothing reaches the error log.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAllServers, rawHttp, startServeProcess, type ServerProcess } from "../support/api-server.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-api-input-");
let server: ServerProcess;

beforeAll(async () => {
  server = await startServeProcess({ TRADELITE_DB: dir.file("input.db"), TRADELITE_CACHE_DIR: dir.file("cache"), TRADELITE_PORT: "0" });
});
afterAll(async () => {
  await killAllServers();
  dir.cleanup();
});

/** A JSON bar whose amount field's key holds the bytes given (so only the encoding is wrong). */
function barsWithBytes(bytes: number[]): Uint8Array {
  const before = new TextEncoder().encode('[{"timestamp":1704067200000,"open":1,"high":1,"low":1,"close":1,"note":"');
  const after = new TextEncoder().encode('"}]');
  return new Uint8Array([...before, ...bytes, ...after]);
}

async function post(path: string, body: Uint8Array | string, type: string, method = "POST") {
  const answer = await fetch(`${server.url}${path}`, { method, body, headers: { "Content-Type": type } });
  return { status: answer.status, body: (await answer.json()) as { error: { code: string; message: string; details: unknown } } };
}

async function symbols(): Promise<string[]> {
  return ((await (await fetch(`${server.url}/v1/symbols`)).json()) as { symbol: string }[]).map((row) => row.symbol);
}

describe("bytes that are not UTF-8", () => {
  test("in a JSON body: 400 MALFORMED naming the body, for bars and preferences alike; nothing stored", async () => {
    for (const bytes of [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
      const answer = await post("/v1/bars/BADUTF", barsWithBytes(bytes), "application/json");
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({ code: "MALFORMED", message: "the request body is not valid UTF-8", details: { where: "body" } });
    }
    const value = (bytes: number[]) => new Uint8Array([...new TextEncoder().encode('{"value":"'), ...bytes, 0x22, 0x7d]);
    const pref = await post("/v1/preferences/theme", value([0xff]), "application/json", "PUT");
    expect([pref.status, pref.body.error.code]).toEqual([400, "MALFORMED"]);
    expect(await symbols()).toEqual([]);
    // The same preference in valid UTF-8 is stored and read back as sent.
    const fine = await post("/v1/preferences/theme", value([0xe6, 0x96, 0x87]), "application/json", "PUT");
    expect(fine.status).toBe(200);
    expect(((await (await fetch(`${server.url}/v1/preferences/theme`)).json()) as { value: unknown }).value).toBe("文");
  });

  test("in a calendar file sent as text/csv: 400 naming the body; the year is unchanged", async () => {
    const before = await (await fetch(`${server.url}/v1/calendars/XSHG`)).json();
    const file = new Uint8Array([...new TextEncoder().encode("date,sessions\n2026-12-31,09:30-11:30\n# "), 0xff, 0x0a]);
    const answer = await post("/v1/calendars/XSHG/years/2026", file, "text/csv", "PUT");
    expect(answer.status).toBe(400);
    expect(answer.body.error.details).toEqual({ where: "body" });
    expect(await (await fetch(`${server.url}/v1/calendars/XSHG`)).json()).toEqual(before);
  });
});

describe("a path or query that does not percent-decode", () => {
  test("%FF after an escape, a stray %, and %ZZ in the path: 400 naming the path; nothing stored under the raw text", async () => {
    for (const path of ["/v1/bars/%41%FF", "/v1/bars/A%", "/v1/bars/%ZZ", "/v1/bars/%C3%28"]) {
      const answer = await post(path, JSON.stringify([{ timestamp: 1704067200000, open: 1, high: 1, low: 1, close: 1 }]), "application/json");
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({ code: "MALFORMED", details: { where: "path" } });
      expect((await fetch(`${server.url}${path}`)).status).toBe(400);
    }
    expect(await symbols()).toEqual([]);
    // A valid escape is its character: %41 is A.
    const valid = await fetch(`${server.url}/v1/bars/%41`, { method: "POST", body: JSON.stringify([{ timestamp: 1704067200000, open: 1, high: 1, low: 1, close: 1 }]), headers: { "Content-Type": "application/json" } });
    expect(valid.status).toBe(200);
    expect(await symbols()).toEqual(["A"]);
  });

  test("in the query: 400 naming the query", async () => {
    for (const query of ["start=%FF", "start=2024-01-01&end=%E2%82", "%ZZ=1"]) {
      const answer = await fetch(`${server.url}/v1/bars/A?${query}`);
      expect(answer.status).toBe(400);
      expect(((await answer.json()) as { error: { details: unknown } }).error.details).toEqual({ where: "query" });
    }
    expect((await fetch(`${server.url}/v1/bars/A?start=2024-01-01%2000%3A00`)).status).toBe(200);
  });
});

describe("HTTP/1.0 without a Host header", () => {
  test("is a 400 in the error shape, not a 500, and leaves no stack trace in the log", async () => {
    const answer = await rawHttp(server.url, "GET /v1/symbols HTTP/1.0\r\n\r\n");
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: "MALFORMED", message: expect.stringContaining("Host header is required") } });
    // With a Host it is answered as ever.
    const { host } = new URL(server.url);
    expect((await rawHttp(server.url, `GET /v1/symbols HTTP/1.0\r\nHost: ${host}\r\n\r\n`)).status).toBe(200);
    await Bun.sleep(50);
    expect(server.stderr()).not.toContain("failed");
    expect(server.stderr()).not.toMatch(/\bat .*\.ts:\d+/);
  });
});
