/**
 * One server for `bun run bench:api`, run as its own process: `bare` (Bun.serve, one prepared
 * statement, .all() and JSON.stringify: what a hand-written endpoint does), `bare-worker` (the
 * same query and stringify in two plain Workers, round robin, that transfer the answer's bytes
 * back: the least any server answering from another thread does, so the ceiling of api-worker),
 * `api` (tradelite's createApp with a bearer token, the Host check and zod validation on, over
 * the in-thread store), `api-logged` (`api` with the access log on, JSON lines to stdout as
 * `serve` writes them to a pipe), `api-no-metrics` (`api` with `metrics: false`) or `api-worker`
 * (the same over the sqlite-worker store, as `bun run serve` runs it).
 * Prints its URL. Usage: bun scripts/bench-api-server.ts <mode> <database path> <token>
 */
import { Database as SqliteDatabase } from "bun:sqlite";
import { openStore } from "../src/mod.ts";
import { startServer, writeAccessEntry } from "../src/entries/api.ts";

declare const self: Worker;
const MODES = ["bare", "bare-worker", "api", "api-no-metrics", "api-logged", "api-worker"];
const RANGE_SQL =
  "SELECT timestamp, open, high, low, close, volume, amount FROM market_data WHERE symbol = ? AND timestamp BETWEEN ? AND ? ORDER BY timestamp";

interface RangeRequest {
  id: number;
  symbol: string;
  start: number;
  end: number;
}

if (!Bun.isMainThread) readerWorker();
else await main();

/** A bare-worker reader: the bare handler's query and stringify, the bytes handed back. */
function readerWorker(): void {
  const range = new SqliteDatabase(process.argv[3]!, { readonly: true }).prepare(RANGE_SQL);
  const encoder = new TextEncoder();
  self.onmessage = (event: MessageEvent<RangeRequest>) => {
    const { id, symbol, start, end } = event.data;
    const bytes = encoder.encode(JSON.stringify(range.all(symbol, start, end)));
    postMessage({ id, bytes }, [bytes.buffer as ArrayBuffer]);
  };
}

/** The request's symbol and range, read as a hand-written endpoint reads them. */
function rangeOf(request: Request): Omit<RangeRequest, "id"> {
  const url = new URL(request.url);
  const symbol = decodeURIComponent(url.pathname.slice("/v1/bars/".length));
  return { symbol, start: Number(url.searchParams.get("start")), end: Number(url.searchParams.get("end")) };
}

async function main(): Promise<void> {
  const [mode, path, token] = process.argv.slice(2);
  if (!MODES.includes(mode ?? "") || !path || !token) {
    console.error(`usage: bun scripts/bench-api-server.ts ${MODES.join("|")} <database path> <token>`);
    process.exit(2);
  }
  const headers = { "Content-Type": "application/json" };
  if (mode === "bare") {
    const range = new SqliteDatabase(path, { readonly: true }).prepare(RANGE_SQL);
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request) {
        const { symbol, start, end } = rangeOf(request);
        return new Response(JSON.stringify(range.all(symbol, start, end)), { headers });
      },
    });
    console.log(`listening on http://127.0.0.1:${server.port}`);
  } else if (mode === "bare-worker") {
    const readers = [0, 1].map(() => new Worker(import.meta.url, { argv: [mode, path] }));
    const waiting = new Map<number, (bytes: Uint8Array) => void>();
    for (const reader of readers) {
      reader.onmessage = (event: MessageEvent<{ id: number; bytes: Uint8Array }>) => {
        waiting.get(event.data.id)!(event.data.bytes);
        waiting.delete(event.data.id);
      };
    }
    let nextId = 0;
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(request) {
        const id = nextId++;
        const bytes = await new Promise<Uint8Array>((resolve) => {
          waiting.set(id, resolve);
          readers[id % readers.length]!.postMessage({ id, ...rangeOf(request) } satisfies RangeRequest);
        });
        return new Response(bytes, { headers });
      },
    });
    console.log(`listening on http://127.0.0.1:${server.port}`);
  } else {
    const store = await openStore(mode === "api-worker" ? { backend: "sqlite-worker", path } : { backend: "sqlite", path });
    const running = startServer(store, {
      hostname: "127.0.0.1",
      port: 0,
      tokens: [{ name: "bench", token }],
      // As serve logs on a loopback address: every client is this machine, so none is looked up.
      ...(mode === "api-logged" ? { accessLog: (entry) => writeAccessEntry(entry, true), accessLogClients: false } : {}),
      ...(mode === "api-no-metrics" ? { metrics: false } : {}),
    });
    console.log(`listening on ${running.url}`);
  }
}
