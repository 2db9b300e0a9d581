/**
 * One server for the API latency case of scripts/bench-worker.ts, run as its own process:
 * tradelite's API (startServer: bearer token, Host check, zod validation) over the store
 * backend named on the command line, `sqlite` (in-thread) or `sqlite-worker` (one writer and
 * two reader workers, the defaults). The body limit is raised above the default 64 MiB so the
 * 1M-row CSV import is never a 413. Prints its URL. A 5 ms timer watches its event loop; on
 * SIGTERM it prints `stalls <json>` (each stall of 20 ms or more: [epoch ms when it ended, ms
 * late]) and closes the store cleanly.
 * Usage: bun scripts/bench-worker-server.ts sqlite|sqlite-worker <database path> <token>
 */
import { openStore } from "../src/mod.ts";
import { startServer } from "../src/entries/api.ts";

const [backend, path, token] = process.argv.slice(2);
if ((backend !== "sqlite" && backend !== "sqlite-worker") || !path || !token) {
  console.error("usage: bun scripts/bench-worker-server.ts sqlite|sqlite-worker <database path> <token>");
  process.exit(2);
}

const store = backend === "sqlite" ? await openStore({ backend, path }) : await openStore({ backend, path });
const running = startServer(store, {
  hostname: "127.0.0.1",
  port: 0,
  tokens: [{ name: "bench", token }],
  maxBodyBytes: 1024 * 1024 * 1024,
  backupDir: null,
});
console.log(`listening on ${running.url} (backend ${store.backend})`);

const TICK_MS = 5;
const STALL_MS = 20;
const stalls: [number, number][] = [];
let last = performance.now();
setInterval(() => {
  const now = performance.now();
  const late = now - last - TICK_MS;
  if (late >= STALL_MS) stalls.push([Date.now(), Math.round(late * 10) / 10]);
  last = now;
}, TICK_MS);

let stopping = false;
process.on("SIGTERM", async () => {
  if (stopping) return;
  stopping = true;
  console.log(`stalls ${JSON.stringify(stalls)}`);
  await running.stop();
  await store.close();
  process.exit(0);
});
