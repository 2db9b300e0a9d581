/**
 * `bun run bench:abandon`: issue 17, finding 3 at a chosen scale. `bun run serve` (the
 * sqlite-worker backend, its defaults) serves a 1,000,000-row symbol; a separate client process
 * starts CLIENTS weekly resamples of it at once and hangs up on each after ABANDON ms; this
 * process probes /health every 10 ms from the storm's start until the store is free again
 * (/ready answers within 100 ms). It reports the /health p50/p99/max over that time, how long
 * the store stayed busy after the clients had gone, and how many abandoned reads were run to
 * their end anyway (the server's access log: 200s it wrote minus 200s the clients received).
 * /health is probed idle for 3 s first, the floor on a shared machine. Target: /health p99
 * <= 10 ms during the storm. `--root DIR` serves another checkout's scripts/serve.ts (a
 * `git archive` of an older commit, for a before/after on the same data).
 * `--stages` runs the storm instead against an in-process server built as `serve` builds it (the
 * worker store with a 5 s queue deadline, createApi and its front door; `--no-door`: the app
 * alone, as before the front door; `--hold`: no app, every request held as the bare server
 * holds it) and prints where its thread went: the
 * synchronous time of each arrival's fetch call, and every gap of more than 15 ms in its event
 * loop (when /health could not be answered), with when it came.
 * Options: --clients N (2500), --abandon-ms N (5000), --rows N (1000000), --root DIR, --stages, --no-door, --hold.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, openStore } from "../src/mod.ts";
import { createApi, frontDoor } from "../src/entries/api.ts";
import { percentile } from "./bench-support.ts";
import { randomWalk, sessionTimestamps } from "./synthetic-bars.ts";

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1]! : fallback;
};
const SYMBOL = "600519.SH";
const TARGET_P99_MS = 10;

if (args[0] === "--storm") await storm(args[1]!, Number(args[2]), Number(args[3]));
else if (args[0] === "--bare") bare();
else if (args.includes("--stages")) await stages();
else await bench();

/**
 * The baseline, in its own process: a bare Bun.serve that answers /health and /ready at once and
 * holds every other request until its client hangs up. What /health does under the storm here is
 * the floor this machine sets (its cores, the client process beside it), not tradelite's cost.
 */
function bare(): void {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 120,
    fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === "/health" || path === "/ready") return new Response("ok");
      return new Promise((resolve) => request.signal.addEventListener("abort", () => resolve(new Response(null, { status: 499 }))));
    },
  });
  console.log(`listening on http://127.0.0.1:${server.port}`);
}

/** The client side, in its own process: CLIENTS requests at once, each abandoned after ABANDON ms. */
async function storm(url: string, clients: number, abandonMs: number): Promise<void> {
  const outcomes: Record<string, number> = {};
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), abandonMs);
      let outcome: string;
      try {
        const answer = await fetch(`${url}/v1/bars/${SYMBOL}?interval=1w`, { signal: controller.signal });
        await answer.arrayBuffer();
        outcome = String(answer.status);
      } catch (error) {
        outcome = (error as Error).name;
      }
      clearTimeout(timer);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }),
  );
  console.log(JSON.stringify(outcomes));
}

async function bench(): Promise<void> {
  const clients = Number(option("--clients", "2500"));
  const abandonMs = Number(option("--abandon-ms", "5000"));
  const rows = Number(option("--rows", "1000000"));
  const root = option("--root", join(import.meta.dir, ".."));
  const dir = mkdtempSync(join(tmpdir(), "tradelite-bench-abandon-"));
  const path = join(dir, "bench.db");
  try {
    const db = openDatabase({ path });
    db.insertBars(SYMBOL, randomWalk(sessionTimestamps("2010-01-04", rows), 1));
    db.close();
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith("TRADELITE_")) env[key] = value;
    const server = Bun.spawn(["bun", join(root, "scripts", "serve.ts"), "--db", path, "--port", "0", "--cache-dir", join(dir, "cache")], {
      cwd: root,
      env,
      stdout: "pipe",
      stderr: "ignore",
    });
    const baseline = Bun.spawn(["bun", import.meta.path, "--bare"], { env, stdout: "pipe", stderr: "inherit" });
    try {
      const log = { text: "" };
      const url = await listening(server.stdout, log);
      const bareUrl = await listening(baseline.stdout, { text: "" });
      await fetch(`${url}/v1/bars/${SYMBOL}?interval=1w`).then((answer) => answer.arrayBuffer()); // warm up
      console.log(`bench:abandon: ${rows.toLocaleString("en-US")} rows, ${clients} clients each hanging up after ${abandonMs} ms on a weekly resample (${root})`);
      // The same probes with nothing else running first: on a shared machine, the floor.
      const idleHealth = await probeFor(url, 3_000);
      console.log(`  /health idle, 3 s: ${summary(idleHealth)}`);
      const floor = await stormAgainst(bareUrl, clients, abandonMs, env);
      console.log(`  a bare Bun.serve under the same storm (the machine's floor): /health ${summary(floor.health)}`);
      const run = await stormAgainst(url, clients, abandonMs, env);
      await Bun.sleep(300); // the access log is flushed every 100 ms
      const written = log.text.split("\n").filter((line) => line.includes('"route":"/v1/bars/:symbol"'));
      const served = written.filter((line) => line.includes('"status":200')).length;
      console.log(`  clients: ${JSON.stringify(run.outcomes)} after ${(run.stormMs / 1000).toFixed(1)} s`);
      console.log(`  abandoned reads run to their end anyway: ${served - (run.outcomes["200"] ?? 0)} of ${run.outcomes.AbortError ?? 0}`);
      console.log(`  the store stayed busy ${(run.busyMs / 1000).toFixed(1)} s after the clients had gone`);
      console.log(`  /health over ${((run.stormMs + run.busyMs) / 1000).toFixed(1)} s: ${summary(run.health)}`);
      const p99 = percentile(run.health, 99);
      // A benchmark, not a test: it says whether the target was met, exit 0.
      console.log(`/health p99 ${p99.toFixed(2)} ms (target <= ${TARGET_P99_MS} ms; the bare server's ${percentile(floor.health, 99).toFixed(2)} ms): ${p99 <= TARGET_P99_MS ? "PASS" : "MISSED"}`);
    } finally {
      baseline.kill();
      await baseline.exited;
      server.kill();
      await server.exited;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The storm against an in-process server, its thread's time recorded (see --stages above). */
async function stages(): Promise<void> {
  const clients = Number(option("--clients", "2500"));
  const abandonMs = Number(option("--abandon-ms", "5000"));
  const dir = mkdtempSync(join(tmpdir(), "tradelite-bench-abandon-"));
  const path = join(dir, "bench.db");
  try {
    const db = openDatabase({ path });
    db.insertBars(SYMBOL, randomWalk(sessionTimestamps("2010-01-04", Number(option("--rows", "1000000"))), 1));
    db.close();
    const store = await openStore({ backend: "sqlite-worker", path, queueDeadlineMs: 5_000 });
    // As startServer serves it (the front door, then the app), or the app alone with --no-door.
    const api = createApi(store);
    // --hold: the bare server's handler instead (every request held until its client leaves), for
    // the gaps Bun's own accepting and parsing of the storm leave on this machine.
    const hold = (request: Request) => new Promise<Response>((resolve) => request.signal.addEventListener("abort", () => resolve(new Response(null, { status: 499 }))));
    const handle = args.includes("--hold") ? hold : args.includes("--no-door") ? api.app.fetch : frontDoor(api);
    const arrivals: number[] = [];
    const gaps: { at: number; ms: number }[] = [];
    const started = performance.now();
    let last = started;
    const watch = setInterval(() => {
      const now = performance.now();
      if (now - last > 15) gaps.push({ at: last - started, ms: now - last });
      last = now;
    }, 5);
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      idleTimeout: 120,
      fetch(request, running) {
        const begun = performance.now();
        const answer = handle(request, running);
        arrivals.push(performance.now() - begun);
        return answer;
      },
    });
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
    const client = Bun.spawn(["bun", import.meta.path, "--storm", `http://127.0.0.1:${server.port}`, String(clients), String(abandonMs)], {
      env: { ...env, BUN_CONFIG_MAX_HTTP_REQUESTS: String(clients + 16) },
      stdout: "pipe",
      stderr: "inherit",
    });
    const stormStarted = performance.now() - started;
    const outcomes = (await new Response(client.stdout).text()).trim();
    await Bun.sleep(500);
    clearInterval(watch);
    server.stop(true);
    await store.close();
    const total = arrivals.reduce((sum, ms) => sum + ms, 0);
    console.log(`bench:abandon --stages: ${clients} clients hanging up after ${abandonMs} ms, storm from ${stormStarted.toFixed(0)} ms: ${outcomes}`);
    console.log(`  refused at the front door: ${api.admission?.refused ?? 0}`);
    console.log(`  arrivals: ${arrivals.length} fetch calls, ${total.toFixed(0)} ms of synchronous work in all, p50 ${percentile(arrivals, 50).toFixed(3)} ms, p99 ${percentile(arrivals, 99).toFixed(3)} ms each`);
    console.log(`  event loop gaps over 15 ms: ${gaps.map((gap) => `${gap.ms.toFixed(0)} ms at ${gap.at.toFixed(0)}`).join(", ") || "none"}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface StormRun {
  outcomes: Record<string, number>;
  health: number[];
  stormMs: number;
  busyMs: number;
}

/**
 * Runs the storm (a client process) against `url` while probing /health, until the server is
 * free again: /ready (a store read on tradelite) answers within 100 ms.
 */
async function stormAgainst(url: string, clients: number, abandonMs: number, env: Record<string, string>): Promise<StormRun> {
  const health: number[] = [];
  let probing = true;
  const probes = probe(url, health, () => probing);
  const started = performance.now();
  const client = Bun.spawn(["bun", import.meta.path, "--storm", url, String(clients), String(abandonMs)], {
    env: { ...env, BUN_CONFIG_MAX_HTTP_REQUESTS: String(clients + 16) },
    stdout: "pipe",
    stderr: "inherit",
  });
  const outcomes = JSON.parse((await new Response(client.stdout).text()).trim()) as Record<string, number>;
  const gone = performance.now();
  for (;;) {
    const asked = performance.now();
    const ready = await fetch(`${url}/ready`).then((answer) => answer.status);
    if (ready === 200 && performance.now() - asked < 100) break;
    await Bun.sleep(100);
  }
  const idle = performance.now();
  probing = false;
  await probes;
  return { outcomes, health, stormMs: gone - started, busyMs: idle - gone };
}

async function probeFor(url: string, ms: number): Promise<number[]> {
  const health: number[] = [];
  let probing = true;
  const probes = probe(url, health, () => probing);
  await Bun.sleep(ms);
  probing = false;
  await probes;
  return health;
}

function summary(latencies: readonly number[]): string {
  return `${latencies.length} probes, p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms, max ${Math.max(...latencies).toFixed(2)} ms`;
}

/** GET /health every 10 ms while `running()`, each latency pushed to `into`. */
async function probe(url: string, into: number[], running: () => boolean): Promise<void> {
  while (running()) {
    const started = performance.now();
    await fetch(`${url}/health`).then((answer) => answer.arrayBuffer());
    into.push(performance.now() - started);
    await Bun.sleep(10);
  }
}

/** Reads the server's stdout until it prints its URL, then keeps collecting it (the access log). */
async function listening(stream: ReadableStream<Uint8Array>, log: { text: string }): Promise<string> {
  const decoder = new TextDecoder();
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`the server exited before listening: ${log.text}`);
    log.text += decoder.decode(value, { stream: true });
    const match = /listening on (http:\/\/\S+)/.exec(log.text);
    if (match) {
      void (async () => {
        for (;;) {
          const next = await reader.read();
          if (next.done) return;
          log.text += decoder.decode(next.value, { stream: true });
        }
      })();
      return match[1]!;
    }
  }
}
