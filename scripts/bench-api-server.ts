/**
 * One server for `bun run bench:api`, run as its own process: `bare` (Bun.serve, one prepared
 * statement, .all() and JSON.stringify: what a hand-written endpoint does), `api` (tradelite's
 * createApp with a bearer token, the Host check and zod validation on, over the in-thread store)
 * `api-logged` (`api` with the access log on, JSON lines to stdout as `serve` writes them to a
 * pipe), `api-no-metrics` (`api` with `metrics: false`) or `api-worker` (the same over the
 * sqlite-worker store, as `bun run serve` runs it).
 * Prints its URL. Usage: bun scripts/bench-api-server.ts bare|api|api-no-metrics|api-logged|api-worker <database path> <token>
 */
import { Database as SqliteDatabase } from "bun:sqlite";
import { openStore } from "../src/mod.ts";
import { startServer, writeAccessEntry } from "../src/entries/api.ts";

const [mode, path, token] = process.argv.slice(2);
if (!["bare", "api", "api-no-metrics", "api-logged", "api-worker"].includes(mode ?? "") || !path || !token) {
  console.error("usage: bun scripts/bench-api-server.ts bare|api|api-no-metrics|api-logged|api-worker <database path> <token>");
  process.exit(2);
}

if (mode === "bare") {
  const sqlite = new SqliteDatabase(path, { readonly: true });
  const range = sqlite.prepare(
    "SELECT timestamp, open, high, low, close, volume, amount FROM market_data WHERE symbol = ? AND timestamp BETWEEN ? AND ? ORDER BY timestamp",
  );
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const url = new URL(request.url);
      const symbol = decodeURIComponent(url.pathname.slice("/v1/bars/".length));
      const rows = range.all(symbol, Number(url.searchParams.get("start")), Number(url.searchParams.get("end")));
      return new Response(JSON.stringify(rows), { headers: { "Content-Type": "application/json" } });
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
