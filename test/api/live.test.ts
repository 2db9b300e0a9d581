/**
 * /v1/stream (Server-Sent Events) and /v1/stream/ws (WebSocket) through a real server on a random
 * loopback port over a SQLite file, with the writes made by the store and by a separate python3
 * sqlite3 process; client.watch() over both transports; a server killed and restarted under a
 * watching client; a consumer that stops reading.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database as SqliteDatabase } from "bun:sqlite";
import { connect } from "node:net";
import { createClient } from "../../src/entries/client.ts";
import { startServer, type RunningServer } from "../../src/entries/api.ts";
import { openStore, TradeliteError, ValidationError, type Bar, type Store } from "../../src/mod.ts";
import { tempDir } from "../support/files.ts";
import { killAllServers, startServeProcess, unchunk } from "../support/api-server.ts";

const T0 = Date.parse("2024-01-02T01:31:00Z"); // 09:31 Shanghai
const MINUTE = 60_000;
const dir = tempDir("tradelite-live-");
const path = dir.file("live.db");

let store: Store;
let server: RunningServer;

function bar(i: number, close = 10 + i / 100): Bar {
  return { timestamp: T0 + i * MINUTE, open: close, high: close + 0.05, low: close - 0.05, close, volume: 100 + i, amount: (100 + i) * close };
}

beforeAll(async () => {
  store = await openStore({ backend: "sqlite", path, timezone: "Asia/Shanghai" });
  server = startServer(store, { port: 0, logError: () => {}, live: { stallMs: 300, heartbeatMs: 200 } });
});

afterAll(async () => {
  await server.stop(true);
  await store.close();
  await killAllServers();
  dir.cleanup();
});

interface SseEvent {
  event: string;
  id: string | null;
  data: Record<string, unknown>;
}

/** Reads SSE events off a response body until `count` have come (comments counted apart). */
function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let comments = 0;
  const events: SseEvent[] = [];
  const parse = () => {
    for (let end = text.indexOf("\n\n"); end >= 0; end = text.indexOf("\n\n")) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      const fields = block.split("\n");
      if (fields.every((line) => line.startsWith(":"))) {
        comments++;
        continue;
      }
      const field = (name: string) => fields.find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2) ?? null;
      const data = field("data");
      events.push({ event: field("event") ?? "message", id: field("id"), data: data === null ? {} : (JSON.parse(data) as Record<string, unknown>) });
    }
  };
  return {
    events,
    comments: () => comments,
    async until(count: number, timeoutMs = 10_000): Promise<SseEvent[]> {
      const deadline = Date.now() + timeoutMs;
      while (events.length < count) {
        if (Date.now() > deadline) throw new Error(`only ${events.length} of ${count} events came: ${JSON.stringify(events.map((e) => e.event))}`);
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        parse();
      }
      return events;
    },
    async close() {
      await reader.cancel().catch(() => {});
    },
  };
}

const get = (query: string, headers: Record<string, string> = {}) => fetch(`${server.url}/v1/stream${query}`, { headers });

describe("GET /v1/stream (Server-Sent Events)", () => {
  test("ready first, then each stored bar once, in order, its cursor as the event's id", async () => {
    await store.insertBars("LIVE.A", [bar(0)]);
    const response = await get("?symbols=LIVE.A");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    const stream = sseReader(response.body!);
    const [ready] = await stream.until(1);
    expect(ready!.event).toBe("ready");
    expect(ready!.data.cursor).toEqual(expect.any(String));
    // The bar stored before the stream opened is not sent; those after it are, and only the watched symbol's.
    await store.insertBars("LIVE.OTHER", [bar(1)]);
    await store.insertBars("LIVE.A", [bar(1), bar(2)]);
    await store.insertBars("LIVE.A", [bar(3)]);
    const events = (await stream.until(4)).slice(1);
    expect(events.map((e) => e.event)).toEqual(["bar", "bar", "bar"]);
    expect(events.map((e) => (e.data.bar as Bar).timestamp)).toEqual([bar(1).timestamp, bar(2).timestamp, bar(3).timestamp]);
    expect(events.map((e) => e.data.symbol)).toEqual(["LIVE.A", "LIVE.A", "LIVE.A"]);
    for (const event of events) {
      expect(event.id).toBe(event.data.cursor as string);
      expect(event.data).toMatchObject({ interval: null, final: true });
    }
    expect(events[2]!.data.bar).toEqual(bar(3));
    await stream.close();
  });

  test("Last-Event-ID resumes after that event: nothing lost, nothing repeated, and it wins over ?since", async () => {
    const first = sseReader((await get("?symbols=LIVE.B")).body!);
    const [ready] = await first.until(1);
    await store.insertBars("LIVE.B", [bar(0), bar(1), bar(2)]);
    const seen = (await first.until(4)).slice(1);
    await first.close();
    // Written while no one watches.
    await store.insertBars("LIVE.B", [bar(3)]);
    const again = sseReader((await get(`?symbols=LIVE.B&since=${encodeURIComponent(ready!.data.cursor as string)}`, { "Last-Event-ID": seen[1]!.id! })).body!);
    const resumed = await again.until(3);
    expect(resumed[0]!.event).toBe("ready");
    expect(resumed[0]!.data.gap).toBeUndefined();
    expect(resumed.slice(1).map((e) => (e.data.bar as Bar).timestamp)).toEqual([bar(2).timestamp, bar(3).timestamp]);
    await again.close();
  });

  test("a cursor older than the change log keeps: the stream replays from the oldest change kept and its first event says gap", async () => {
    const first = store.watch({ symbols: ["LIVE.GAP"] });
    const old = await first.ready;
    await first.return();
    for (let i = 0; i < 4; i++) await store.insertBars("LIVE.GAP", [bar(i)]);
    const seqs = new SqliteDatabase(path);
    const kept = seqs.query("SELECT seq FROM bar_changes WHERE symbol = 'LIVE.GAP' ORDER BY seq").all() as { seq: number }[];
    // What insertBars' bounded trim does past the kept rows (src/sqlite/changes.ts), done to the first two of these.
    seqs.run("DELETE FROM bar_changes WHERE seq <= ?", [kept[1]!.seq]);
    seqs.run("UPDATE bar_changes_state SET trimmed = ?", [kept[1]!.seq]);
    seqs.close();
    const stream = sseReader((await get("?symbols=LIVE.GAP", { "Last-Event-ID": old })).body!);
    const events = await stream.until(3);
    expect(events[0]).toMatchObject({ event: "ready", data: { gap: true } });
    expect(events.slice(1).map((e) => (e.data.bar as Bar).timestamp)).toEqual([bar(2).timestamp, bar(3).timestamp]);
    await stream.close();
  });

  test("a quiet stream carries comment lines, so idle timeouts do not cut it", async () => {
    const stream = sseReader((await get("?symbols=LIVE.QUIET")).body!);
    await stream.until(1);
    const reading = stream.until(2, 1_500).catch(() => null);
    await Bun.sleep(700);
    await stream.close();
    await reading;
    expect(stream.comments()).toBeGreaterThanOrEqual(2);
  });

  test("an interval sends each 5-minute bar as it forms, then final when its bucket closes", async () => {
    const stream = sseReader((await get("?symbols=LIVE.R&interval=5m")).body!);
    await stream.until(1);
    // 09:31 and 09:32: the 09:30 bucket (start-stamped, clock-aligned) forms; 09:35 opens the next, which closes it.
    await store.insertBars("LIVE.R", [bar(0)]);
    const [, forming] = await stream.until(2);
    expect(forming!.data).toMatchObject({ interval: "5m", final: false, symbol: "LIVE.R" });
    await store.insertBars("LIVE.R", [bar(4)]);
    const events = await stream.until(4);
    const closed = events.slice(2).find((e) => e.data.final === true);
    expect(closed).toBeDefined();
    expect((closed!.data.bar as Bar).timestamp).toBe((forming!.data.bar as Bar).timestamp);
    await stream.close();
  });

  test("bad input is answered before the stream opens: 422 for options, 400 naming the cursor", async () => {
    const unknownInterval = await get("?interval=7m");
    expect(unknownInterval.status).toBe(422);
    expect(((await unknownInterval.json()) as { error: { code: string } }).error.code).toBe("VALIDATION");
    expect((await get("?fields=close")).status).toBe(422);
    const malformed = await get("?since=not-a-cursor");
    expect(malformed.status).toBe(400);
    const body = (await malformed.json()) as { error: { code: string; message: string; details: { field: string } } };
    expect(body.error).toMatchObject({ code: "MALFORMED", details: { field: "since" } });
    expect(body.error.message).toContain("cursor");
    // A cursor of another database, as EventSource would send it back.
    const other = await openStore({ backend: "sqlite", path: dir.file("other.db") });
    const otherWatch = other.watch();
    const cursor = await otherWatch.ready;
    await otherWatch.return();
    await other.close();
    const foreign = await get("", { "Last-Event-ID": cursor });
    expect(foreign.status).toBe(400);
    expect(((await foreign.json()) as { error: { message: string; details: { field: string } } }).error).toMatchObject({
      details: { field: "Last-Event-ID" },
      message: expect.stringContaining("another database"),
    });
  });

  test("a bar written by a separate python3 sqlite3 process reaches the stream", async () => {
    const stream = sseReader((await get("?symbols=LIVE.PY")).body!);
    await stream.until(1);
    const python = Bun.spawn(
      [
        "python3",
        "-c",
        `import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
db.execute("INSERT INTO market_data (symbol, timestamp, open, high, low, close, volume, amount) VALUES ('LIVE.PY', ?, 1, 2, 0.5, 1.5, 10, 15)", (int(sys.argv[2]),))
db.commit()`,
        path,
        String(T0),
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    expect(await python.exited).toBe(0);
    const [, event] = await stream.until(2);
    expect(event!.data).toMatchObject({ symbol: "LIVE.PY", bar: { timestamp: T0, close: 1.5, volume: 10 } });
    await stream.close();
  });

  test("a consumer that stops reading is sent `dropped` with its cursor and closed, and resumes from it", async () => {
    const start = store.watch({ symbols: ["LIVE.SLOW"] });
    const cursor = await start.ready;
    await start.return();
    const many = Array.from({ length: 60_000 }, (_, i) => bar(i));
    await store.insertBars("LIVE.SLOW", many);
    // A raw socket that sends the request and reads nothing for a while: the socket's and the stream's buffers fill.
    const { hostname, port } = new URL(server.url);
    const chunks: Buffer[] = [];
    const socket = connect({ host: hostname, port: Number(port) });
    socket.pause();
    socket.write(`GET /v1/stream?symbols=LIVE.SLOW&since=${encodeURIComponent(cursor)} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n\r\n`);
    await Bun.sleep(1_500);
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.resume();
    await closed;
    const bytes = Buffer.concat(chunks);
    const text = unchunk(bytes.subarray(bytes.indexOf("\r\n\r\n") + 4)).toString("utf8");
    const last = text.trimEnd().split("\n\n").at(-1)!;
    expect(last).toStartWith("event: dropped\ndata: ");
    const droppedCursor = (JSON.parse(last.slice("event: dropped\ndata: ".length)) as { cursor: string }).cursor;
    // Not every bar was sent: the consumer was dropped part-way, at the cursor it was given.
    const ids = [...text.matchAll(/^id: (.+)$/gm)].map((m) => m[1]!.trim());
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.length).toBeLessThan(many.length);
    expect(droppedCursor).toBe(ids[ids.length - 1]!);
    // Resuming from it sends the next bar.
    const resumed = sseReader((await get("?symbols=LIVE.SLOW", { "Last-Event-ID": droppedCursor })).body!);
    const [, next] = await resumed.until(2);
    expect((next!.data.bar as Bar).timestamp).toBe(many[ids.length]!.timestamp);
    await resumed.close();
  });
});

describe("GET /v1/stream/ws (WebSocket)", () => {
  function socketOf(query: string, headers: Record<string, string> = {}) {
    const ws = new WebSocket(`${server.url.replace("http:", "ws:")}/v1/stream/ws${query}`, { headers } as never);
    const messages: Record<string, unknown>[] = [];
    ws.addEventListener("message", (message) => messages.push(JSON.parse(String(message.data)) as Record<string, unknown>));
    const closed = new Promise<number>((resolve) => ws.addEventListener("close", (event) => resolve(event.code)));
    const until = async (count: number) => {
      const deadline = Date.now() + 10_000;
      while (messages.length < count && Date.now() < deadline) await Bun.sleep(10);
      return messages;
    };
    return { ws, messages, closed, until };
  }

  test("the same events as JSON frames: ready, then bars with their cursors", async () => {
    const socket = socketOf("?symbols=LIVE.WS");
    await socket.until(1);
    expect(socket.messages[0]).toMatchObject({ type: "ready", cursor: expect.any(String) });
    await store.insertBars("LIVE.WS", [bar(0), bar(1)]);
    const messages = await socket.until(3);
    expect(messages.slice(1).map((m) => m.type)).toEqual(["bar", "bar"]);
    expect(messages[2]).toMatchObject({ symbol: "LIVE.WS", interval: null, final: true, bar: bar(1) });
    // Resume over a new socket from the first bar's cursor.
    socket.ws.close();
    const again = socketOf(`?symbols=LIVE.WS&since=${encodeURIComponent(messages[1]!.cursor as string)}`);
    await store.insertBars("LIVE.WS", [bar(2)]);
    const resumed = await again.until(3);
    expect(resumed.slice(1).map((m) => (m.bar as Bar).timestamp)).toEqual([bar(1).timestamp, bar(2).timestamp]);
    again.ws.close();
  });

  test("an upgrade from another origin is refused (browsers apply no CORS to WebSockets); a plain GET is 426", async () => {
    const refused = await fetch(`${server.url}/v1/stream/ws`, { headers: { Origin: "http://evil.example", Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13" } });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("CROSS_SITE");
    const plain = await fetch(`${server.url}/v1/stream/ws`);
    expect(plain.status).toBe(426);
    expect(((await fetch(`${server.url}/v1/stream/ws?interval=7m`)).status)).toBe(422);
  });
});

describe("client.watch()", () => {
  test("over SSE and over a WebSocket, the same events as store.watch()", async () => {
    const client = createClient({ url: server.url });
    for (const transport of ["sse", "websocket"] as const) {
      const symbol = `LIVE.C${transport.length}`;
      const controller = new AbortController();
      const events = client.watch({ symbols: [symbol], transport, signal: controller.signal });
      const first = events.next();
      await Bun.sleep(200);
      await store.insertBars(symbol, [bar(0), bar(1)]);
      const got = [(await first).value, (await events.next()).value];
      expect(got.map((e) => e!.bar)).toEqual([bar(0), bar(1)]);
      expect(got.map((e) => e!.symbol)).toEqual([symbol, symbol]);
      controller.abort();
      expect((await events.next()).done).toBe(true);
    }
  });

  test("bad options fail the first next() with the library's errors", async () => {
    const client = createClient({ url: server.url });
    const bad = await client
      .watch({ interval: "7m" as never })
      .next()
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ValidationError);
    const cursor = await client
      .watch({ since: "nope", transport: "websocket" })
      .next()
      .catch((e: unknown) => e);
    expect(cursor).toBeInstanceOf(TradeliteError);
    expect((cursor as TradeliteError).code).toBe("MALFORMED");
  });

  test("a server killed (SIGKILL) and restarted: the client resumes from its cursor, nothing lost or repeated", async () => {
    const file = dir.file("restart.db");
    const writer = await openStore({ backend: "sqlite", path: file, timezone: "Asia/Shanghai" });
    const env = { TRADELITE_DB: file, TRADELITE_PORT: "0" };
    let serve = await startServeProcess(env);
    const port = new URL(serve.url).port;
    const client = createClient({ url: serve.url });
    const controller = new AbortController();
    const events = client.watch({ symbols: ["LIVE.K"], signal: controller.signal });
    const first = events.next();
    await Bun.sleep(300);
    await writer.insertBars("LIVE.K", [bar(0), bar(1)]);
    const got: Bar[] = [(await first).value!.bar, (await events.next()).value!.bar];
    serve.proc.kill("SIGKILL");
    await serve.exited;
    // Written while the server is down, and after it is back.
    await writer.insertBars("LIVE.K", [bar(2), bar(3)]);
    serve = await startServeProcess({ ...env, TRADELITE_PORT: port });
    await writer.insertBars("LIVE.K", [bar(4)]);
    for (let i = 0; i < 3; i++) got.push((await events.next()).value!.bar);
    expect(got.map((b) => b.timestamp)).toEqual([0, 1, 2, 3, 4].map((i) => bar(i).timestamp));
    controller.abort();
    serve.proc.kill("SIGKILL");
    await serve.exited;
    await writer.close();
  }, 60_000);
});
