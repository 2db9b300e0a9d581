/**
 * The access log (src/api/access-log.ts) as `tradelite serve` writes it to a pipe: one JSON
 * object per request with the route's pattern, status, duration, bytes, actor and client; a
 * streamed export logged once its bytes are counted; refusals logged with their status; 401s
 * summarized, not one line each; never a token.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAllServers, startServeProcess, type ServerProcess } from "../support/api-server.ts";
import { tempDir } from "../support/files.ts";
import { Hono } from "hono";
import { openStore } from "../../src/mod.ts";
import { startServer } from "../../src/entries/api.ts";
import { accessLine, accessLog, ACCESS_LOG_FLUSH_MS, isoTime, type AccessEntry } from "../../src/api/access-log.ts";

const TOKEN = "access-log-token-0123456789";
const dir = tempDir("tradelite-access-log-");
let open: ServerProcess;
let guarded: ServerProcess;

beforeAll(async () => {
  [open, guarded] = await Promise.all([
    startServeProcess({ TRADELITE_DB: dir.file("open.db"), TRADELITE_CACHE_DIR: dir.file("open-cache"), TRADELITE_PORT: "0" }),
    startServeProcess({ TRADELITE_DB: dir.file("guarded.db"), TRADELITE_CACHE_DIR: dir.file("guarded-cache"), TRADELITE_PORT: "0", TRADELITE_TOKEN: TOKEN, TRADELITE_TOKEN_NAME: "alice" }),
  ]);
});
afterAll(async () => {
  await killAllServers();
  dir.cleanup();
});

/** The access entries the server has written so far (its stdout's JSON lines). */
function entries(server: ServerProcess): AccessEntry[] {
  return server
    .stdout()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as AccessEntry);
}

/** Longer than the log's flush interval (it buffers JSON lines; ACCESS_LOG_FLUSH_MS). */
async function settle(): Promise<void> {
  await Bun.sleep(3 * ACCESS_LOG_FLUSH_MS);
}

describe("one entry per request", () => {
  test("route pattern, status, bytes, duration and actor; a streamed export counted to its last byte; no client lookup on loopback", async () => {
    const bars = Array.from({ length: 3_000 }, (_, i) => ({ timestamp: 1704067200000 + i * 60_000, open: 1, high: 1, low: 1, close: 1 }));
    expect((await fetch(`${open.url}/v1/bars/600519.SH`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(bars) })).status).toBe(200);
    const listed = await fetch(`${open.url}/v1/symbols`);
    const listedBytes = (await listed.arrayBuffer()).byteLength;
    const csv = await (await fetch(`${open.url}/v1/bars/600519.SH?format=csv`)).arrayBuffer();
    await settle();
    const logged = entries(open);
    const post = logged.find((entry) => entry.method === "POST")!;
    // serve listens on loopback only here: every client is this machine, and its address is not asked.
    expect(post).toMatchObject({ route: "/v1/bars/:symbol", status: 200, actor: "local", client: null });
    expect(Number.isNaN(Date.parse(post.time))).toBe(false);
    expect(post.durationMs).toBeGreaterThan(0);
    expect(logged.find((entry) => entry.route === "/v1/symbols")).toMatchObject({ method: "GET", status: 200, bytes: listedBytes });
    const exported = logged.find((entry) => entry.route === "/v1/bars/:symbol" && entry.method === "GET")!;
    expect(exported.bytes).toBe(csv.byteLength);
    expect(exported.bytes).toBeGreaterThan(100_000);
  });

  test("requests refused before any route are logged with their status and no actor", async () => {
    const before = entries(open).length;
    await fetch(`${open.url}/v1/maintenance/backup`, { method: "POST", headers: { Origin: "http://evil.example", "Content-Type": "application/json" } });
    await fetch(`${open.url}/no/such/route`);
    await settle();
    const logged = entries(open).slice(before);
    expect(logged.map((entry) => [entry.method, entry.status, entry.actor])).toEqual([
      ["POST", 403, null],
      ["GET", 404, "local"],
    ]);
    expect(logged[1]!.route).toBeNull();
  });
});

describe("authentication failures", () => {
  test("30 wrong tokens make one entry that counts them, the right one names its actor, and no token is ever written", async () => {
    for (let i = 0; i < 30; i++) {
      await fetch(`${guarded.url}/v1/symbols`, { headers: { Authorization: `Bearer wrong-token-number-${i}-padding` } });
    }
    await fetch(`${guarded.url}/v1/symbols`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    await settle();
    const logged = entries(guarded);
    const failures = logged.filter((entry) => entry.status === 401);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.authFailures).toBe(1);
    expect(logged.filter((entry) => entry.status === 200).map((entry) => entry.actor)).toEqual(["alice"]);
    expect(guarded.stdout()).not.toContain(TOKEN);
    expect(guarded.stdout()).not.toContain("wrong-token");
  });
});

describe("accessLog as a middleware of the caller's own app", () => {
  test("logs each request with its route pattern, status and bytes, and a 401 once per window", async () => {
    const entries: AccessEntry[] = [];
    const app = new Hono();
    app.use(accessLog((entry) => entries.push(entry), 60_000));
    app.get("/items/:id", (c) => c.json({ id: c.req.param("id") }));
    app.get("/secret", (c) => c.json({ error: "no" }, 401));
    await (await app.request("/items/42")).text();
    for (let i = 0; i < 3; i++) await (await app.request("/secret")).text();
    expect(entries.map(({ method, route, status, bytes }) => ({ method, route, status, bytes }))).toEqual([
      { method: "GET", route: "/items/:id", status: 200, bytes: JSON.stringify({ id: "42" }).length },
      { method: "GET", route: "/secret", status: 401, bytes: JSON.stringify({ error: "no" }).length },
    ]);
    expect(entries[1]!.authFailures).toBe(1);
    expect(Date.parse(entries[0]!.time)).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe("the client's address", () => {
  test("is the socket's peer when asked for (the default of createApp; serve beyond loopback)", async () => {
    const store = await openStore({ backend: "sqlite", path: ":memory:" });
    const logged: AccessEntry[] = [];
    const running = startServer(store, { hostname: "127.0.0.1", port: 0, accessLog: (entry) => logged.push(entry) });
    const quiet = startServer(store, { hostname: "127.0.0.1", port: 0, accessLog: (entry) => logged.push(entry), accessLogClients: false });
    try {
      await (await fetch(`${running.url}/v1/symbols`)).arrayBuffer();
      await (await fetch(`${quiet.url}/v1/symbols`)).arrayBuffer();
      expect(logged.map((entry) => entry.client)).toEqual([expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$/), null]);
    } finally {
      await Promise.all([running.stop(true), quiet.stop(true)]);
      await store.close();
    }
  });
});

describe("the JSON lines", () => {
  const entry: AccessEntry = { time: "2026-12-05T20:00:00.123Z", method: "GET", route: "/v1/bars/:symbol", status: 200, durationMs: 0.25, bytes: 1234, actor: "local", client: null };

  test("are JSON.stringify's text of the entry, whatever the strings hold (quotes, newlines, controls, non-ASCII, lone surrogates)", () => {
    const strange = ['say "hi"', "back\\slash", "two\nlines\r\t", "\u0000\u001f\u007f", "沪深 é ü 😀", "\ud800 alone", "\u2028\u2029", "</script>"];
    const entries: AccessEntry[] = [
      entry,
      { ...entry, route: null, bytes: null, actor: null, client: "::1" },
      { ...entry, status: 401, authFailures: 30 },
      { ...entry, aborted: true },
      { ...entry, status: 503, refusedEarly: 7, durationMs: 0 },
      { ...entry, bytes: Number.NaN },
      ...strange.map((text) => ({ ...entry, method: text, route: text, actor: text, client: text })),
    ];
    for (const each of entries) {
      const line = accessLine(each);
      expect(line).toBe(`${JSON.stringify(each)}\n`);
      expect(line.indexOf("\n")).toBe(line.length - 1);
    }
    expect(JSON.parse(accessLine({ ...entry, actor: strange[1]! })).actor).toBe(strange[1]);
  });

  test("past the remembered names, more routes and actors than it keeps are still quoted as JSON.stringify quotes them", () => {
    for (let i = 0; i < 1_500; i++) {
      const each = { ...entry, route: `/v1/route/${i}/"q"`, actor: `actor ${i}\n` };
      expect(accessLine(each)).toBe(`${JSON.stringify(each)}\n`);
    }
    // The first ones again, remembered or not.
    const again = { ...entry, route: '/v1/route/0/"q"', actor: "actor 0\n" };
    expect(accessLine(again)).toBe(`${JSON.stringify(again)}\n`);
  });

  test("isoTime is toISOString's text for every instant, the same second reused or not", () => {
    const start = Date.UTC(2026, 11, 5, 23, 59, 58, 990);
    // Every millisecond across two second boundaries and a day boundary, then scattered instants
    // (before 1970, far ahead, back and forth between seconds).
    const instants = [...Array.from({ length: 2_100 }, (_, i) => start + i), 0, -1, -1_000, -86_400_001, 253_402_300_799_999, start, start + 5_000, start];
    for (const ms of instants) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
    // Outside four-digit years, and between milliseconds: as toISOString writes them.
    for (const ms of [253_402_300_800_000, -62_198_755_200_001, start + 0.5, start + 1.25]) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
  });

  /** The entries a writer process (test/support/access-log-writer.ts) wrote to its stdout, a pipe. */
  async function writtenBy(count: number, how: "exit" | "return" | "flush"): Promise<AccessEntry[]> {
    const child = Bun.spawn(["bun", `${import.meta.dir}/../support/access-log-writer.ts`, String(count), how], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    expect({ code, err }).toEqual({ code: 0, err: "" });
    expect(out.endsWith("\n")).toBe(true);
    return out.slice(0, -1).split("\n").map((line) => JSON.parse(line) as AccessEntry);
  }

  test.each(["exit", "return", "flush"] as const)("arrive complete and in order when the process ends by %s", async (how) => {
    // 5,000 lines of 170 to 270 bytes: many of the writer's 64 KiB chunks, lines across their edges.
    const written = await writtenBy(5_000, how);
    const count = how === "flush" ? 5_001 : 5_000;
    expect(written.map((each) => each.bytes)).toEqual(Array.from({ length: count }, (_, n) => n));
    expect(written[4_999]).toEqual({ ...entry, time: new Date(1_700_000_004_999).toISOString(), route: `/v1/bars/${"x".repeat(4_999 % 97)}"\n\u00e9`, durationMs: 49.99, bytes: 4_999, actor: "writer" });
  });
});
