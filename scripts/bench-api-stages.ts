/**
 * `bun scripts/bench-api-stages.ts`: where a one-day `GET /v1/bars/:symbol` spends its time in
 * process, stage by stage, for the gap bench:api measures between the API and a bare Bun.serve
 * handler. Each handler below adds one stage to the one before it and is called with the same
 * Request objects, without HTTP (bench:api measures that part; it is the same for all):
 *   bare        URL parse, the prepared statement's .all(), JSON.stringify, a Response
 *   hono        the same work inside a one-route Hono app (routing, Context)
 *   store       + the Store's getBars and the API's JSON answer instead of the statement
 *   api-bare    createApp without tokens, metrics or access log (Host check, zod, middleware)
 *   api-token   + a bearer token (what bench:api's API runs)
 *   api         + metrics (the default)
 *   api-logged  + the access log (JSON lines into a discarding writer)
 * Handlers are interleaved request by request, in blocks, so the drift of a shared machine hits
 * each alike; figures are medians over the blocks (wall time of an await of the whole answer).
 * Options: --blocks N (30), --per-block N (300).
 */
import { Database as SqliteDatabase } from "bun:sqlite";
import { Hono } from "hono";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, openStore } from "../src/mod.ts";
import { createApp } from "../src/entries/api.ts";
import { median } from "./bench-support.ts";
import { randomWalk, sessionTimestamps, SESSION_MINUTES_PER_DAY, tradingDays } from "./synthetic-bars.ts";

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const BLOCKS = option("--blocks", 30);
const PER_BLOCK = option("--per-block", 300);
const SYMBOLS = 20;
const DAYS = 60;
const TOKEN = "bench-token-0123456789abcdef";
const HOST = "127.0.0.1:8787";

const dir = mkdtempSync(join(tmpdir(), "tradelite-bench-stages-"));
try {
  const path = join(dir, "bench.db");
  const db = openDatabase({ path });
  const symbols = Array.from({ length: SYMBOLS }, (_, i) => `${600000 + i}.SH`);
  symbols.forEach((symbol, i) => db.insertBars(symbol, randomWalk(sessionTimestamps("2024-01-02", DAYS * SESSION_MINUTES_PER_DAY), i + 1)));
  db.close();
  const days = tradingDays("2024-01-02", DAYS);
  const urls = Array.from({ length: 1_000 }, (_, i) => {
    const day = days[(i * 7) % days.length]!;
    return `http://${HOST}/v1/bars/${symbols[(i * 3) % symbols.length]}?start=${day}&end=${day + 86_399_999}`;
  });

  const sqlite = new SqliteDatabase(path, { readonly: true });
  const range = sqlite.prepare(
    "SELECT timestamp, open, high, low, close, volume, amount FROM market_data WHERE symbol = ? AND timestamp BETWEEN ? AND ? ORDER BY timestamp",
  );
  const bare = (request: Request) => {
    const url = new URL(request.url);
    const symbol = decodeURIComponent(url.pathname.slice("/v1/bars/".length));
    const rows = range.all(symbol, Number(url.searchParams.get("start")), Number(url.searchParams.get("end")));
    return new Response(JSON.stringify(rows), { headers: { "Content-Type": "application/json" } });
  };
  const store = await openStore({ backend: "sqlite", path });
  const hono = new Hono().get("/v1/bars/:symbol", (c) => bare(c.req.raw));
  const storeApp = new Hono().get("/v1/bars/:symbol", async (c) => {
    const bars = await store.getBars(c.req.param("symbol"), { start: Number(c.req.query("start")), end: Number(c.req.query("end")) });
    return new Response(JSON.stringify(bars), { headers: { "Content-Type": "application/json" } });
  });
  const tokens = [{ name: "bench", token: TOKEN }];
  const base = { allowedHosts: [HOST] };
  const handlers: [string, (request: Request) => Response | Promise<Response>][] = [
    ["bare", bare],
    ["hono", (request) => hono.fetch(request)],
    ["store", (request) => storeApp.fetch(request)],
    ["api-bare", createApp(store, { ...base, metrics: false }).fetch],
    ["api-token", createApp(store, { ...base, tokens, metrics: false }).fetch],
    ["api", createApp(store, { ...base, tokens }).fetch],
    ["api-logged", createApp(store, { ...base, tokens, accessLog: (entry) => void JSON.stringify(entry), accessLogClients: false }).fetch],
  ];
  const blocks = handlers.map((): number[] => []);
  for (let block = 0; block < BLOCKS; block++) {
    const spent = handlers.map(() => 0);
    for (let i = 0; i < PER_BLOCK; i++) {
      const url = urls[(block * PER_BLOCK + i) % urls.length]!;
      // Rotated each time: no handler always runs first (after the loop's own work) or last.
      for (let k = 0; k < handlers.length; k++) {
        const h = (i + k) % handlers.length;
        const request = new Request(url, { headers: { authorization: `Bearer ${TOKEN}`, host: HOST } });
        const started = performance.now();
        const answer = await handlers[h]![1](request);
        await answer.arrayBuffer();
        spent[h]! += performance.now() - started;
        if (answer.status !== 200) throw new Error(`${handlers[h]![0]}: ${answer.status} ${url}`);
      }
    }
    spent.forEach((ms, h) => blocks[h]!.push((ms / PER_BLOCK) * 1000));
  }
  console.log(`bench:api stages: one-day reads (240 rows), ${BLOCKS} blocks x ${PER_BLOCK} requests per handler, interleaved; in process, no HTTP`);
  // Steps and ratios are medians of each block's own difference and ratio: neighbours in a block
  // share the machine's drift.
  const paired = (h: number, other: number, f: (a: number, b: number) => number) => median(blocks[h]!.map((us, block) => f(us, blocks[other]![block]!)));
  console.log("| handler | us a request (median of blocks) | over the one before (paired) | bare / handler (paired) |");
  console.log("|---|---|---|---|");
  handlers.forEach(([name], h) => {
    const step = h === 0 ? "" : paired(h, h - 1, (a, b) => a - b).toFixed(1);
    console.log(`| ${name} | ${median(blocks[h]!).toFixed(1)} | ${step} | ${paired(h, 0, (a, b) => b / a).toFixed(2)} |`);
  });
  await store.close();
  sqlite.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
