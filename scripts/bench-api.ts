/**
 * `bun run bench:api`: requests/s and p50/p99 latency of one-day `GET /v1/bars/:symbol` windows
 * (a random symbol and day per request) through tradelite's API (token, Host check and zod
 * validation on) next to a bare Bun.serve handler running the same query with a prepared
 * statement, .all() and JSON.stringify, in the same run. Load comes from a separate process,
 * Debian's wrk (`apt-get install wrk`), with 32 keep-alive connections. Rounds alternate between
 * the two servers so drift on this shared machine hits both alike; the figures are medians.
 * Target: API >= 0.9 x bare requests/s (stretch >= 1.0), with the in-thread store (the work the
 * bare handler does). The same API over the sqlite-worker store is measured beside it for the
 * record: under this load it is CPU-bound on two cores, where the worker's message round trips
 * and unpacking cost more than they free.
 * The access log's cost is measured beside it: the in-thread API with the log on (JSON lines to a
 * pipe that this process drains, as a log collector would), target >= 0.95 of the API without.
 * So is the metrics' (GET /metrics: every request and store call timed and counted, on by
 * default): the API as shipped, target >= 0.95 of the API with `metrics: false`. Beside
 * requests/s, each server's own CPU time a request (Linux /proc) gives the same ratios with less
 * of the noise other load on a shared machine brings.
 * Last, /health's worst wait while a 64 MiB bad JSON body is read (target <= 50 ms).
 * Options: --quick (fewer rounds, shorter), --seconds N, --rounds N.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/mod.ts";
import { median } from "./bench-support.ts";
import { randomWalk, sessionTimestamps, SESSION_MINUTES_PER_DAY, tradingDays } from "./synthetic-bars.ts";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const option = (name: string, fallback: number) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const SECONDS = option("--seconds", quick ? 3 : 10);
const ROUNDS = option("--rounds", quick ? 1 : 3);
const CONNECTIONS = 32;
const SYMBOLS = 20;
const DAYS = 60;
const TARGET = 0.9;
const LOG_TARGET = 0.95;
const STALL_TARGET_MS = 50;
const TOKEN = "bench-token-0123456789abcdef";
// The API sits between its two variants, so each comparison is of neighbours in every round.
const MODES = ["bare", "api-no-metrics", "api", "api-logged", "api-worker"] as const;

if (!Bun.which("wrk")) {
  console.error("bench:api needs wrk, the HTTP load generator: apt-get install wrk");
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), "tradelite-bench-api-"));
const path = join(dir, "bench.db");
try {
  const db = openDatabase({ path });
  const symbols = Array.from({ length: SYMBOLS }, (_, i) => `${600000 + i}.SH`);
  symbols.forEach((symbol, i) => db.insertBars(symbol, randomWalk(sessionTimestamps("2024-01-02", DAYS * SESSION_MINUTES_PER_DAY), i + 1)));
  db.close();
  const days = tradingDays("2024-01-02", DAYS);
  const lua = join(dir, "requests.lua");
  writeFileSync(
    lua,
    `local symbols = {${symbols.map((s) => `"${s}"`).join(",")}}
local days = {${days.join(",")}}
math.randomseed(42)
wrk.headers["Authorization"] = "Bearer ${TOKEN}"
request = function()
  local day = days[math.random(#days)]
  return wrk.format("GET", "/v1/bars/" .. symbols[math.random(#symbols)] .. "?start=" .. string.format("%d", day) .. "&end=" .. string.format("%d", day + 86399999))
end
`,
  );

  console.log(`bench:api: ${SYMBOLS} symbols x ${DAYS} days x 240 minute bars; one-day windows (240 rows); wrk ${CONNECTIONS} connections, ${SECONDS} s x ${ROUNDS} rounds per server`);
  const results = Object.fromEntries(MODES.map((mode) => [mode, { rps: [], p50: [], p99: [], cpu: [] }])) as unknown as Record<
    Mode,
    { rps: number[]; p50: number[]; p99: number[]; cpu: number[] }
  >;
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of round % 2 === 0 ? MODES : [...MODES].reverse()) {
      const figures = await measure(mode);
      results[mode].rps.push(figures.rps);
      results[mode].p50.push(figures.p50);
      results[mode].p99.push(figures.p99);
      results[mode].cpu.push(figures.cpu);
      console.log(
        `  round ${round + 1} ${mode.padEnd(14)} ${Math.round(figures.rps).toLocaleString("en-US").padStart(7)} req/s  p50 ${figures.p50.toFixed(2)} ms  p99 ${figures.p99.toFixed(2)} ms  ${figures.cpu.toFixed(0)} us CPU/req`,
      );
    }
  }
  const bare = median(results.bare.rps);
  const api = median(results.api.rps);
  const ratio = api / bare;
  console.log("");
  console.log("| server | requests/s | p50 ms | p99 ms | server CPU us/request |");
  console.log("|---|---|---|---|---|");
  const LABELS: Record<Mode, string> = {
    bare: "bare Bun.serve + .all() + JSON.stringify",
    api: "tradelite API (token, Host check, zod, metrics), in-thread store",
    "api-no-metrics": "the same API with metrics: false",
    "api-logged": "the same API with the access log on (JSON lines to a pipe)",
    "api-worker": "the same API over the sqlite-worker store (for the record)",
  };
  for (const mode of MODES) {
    console.log(`| ${LABELS[mode]} | ${Math.round(median(results[mode].rps)).toLocaleString("en-US")} | ${median(results[mode].p50).toFixed(2)} | ${median(results[mode].p99).toFixed(2)} | ${median(results[mode].cpu).toFixed(0)} |`);
  }
  // A benchmark, not a test (like bun run bench): it says whether the target was met, exit 0.
  console.log(`API / bare requests/s: ${ratio.toFixed(2)} (target >= ${TARGET}, stretch >= 1.0): ${ratio >= TARGET ? "PASS" : "MISSED"}`);
  // The costs are medians of each round's ratio: neighbours in a round share the machine's drift.
  const paired = (mode: Mode, base: Mode) => median(results[mode].rps.map((rps, round) => rps / results[base].rps[round]!));
  const logged = paired("api-logged", "api");
  console.log(`API with the access log / API requests/s: ${logged.toFixed(2)} (target >= ${LOG_TARGET}): ${logged >= LOG_TARGET ? "PASS" : "MISSED"}`);
  const metered = paired("api", "api-no-metrics");
  console.log(`API with metrics / API with metrics: false requests/s: ${metered.toFixed(2)} (target >= ${LOG_TARGET}): ${metered >= LOG_TARGET ? "PASS" : "MISSED"}`);
  console.log(`API with the access log and metrics / API with neither requests/s: ${paired("api-logged", "api-no-metrics").toFixed(2)} (for the record)`);
  // The server's own CPU time a request is what other load on a shared machine disturbs least.
  const cpu = (mode: Mode, base: Mode) => (median(results[base].cpu) / median(results[mode].cpu)).toFixed(2);
  console.log(`The same ratios from the server's CPU time a request: access log ${cpu("api-logged", "api")}, metrics ${cpu("api", "api-no-metrics")}, both ${cpu("api-logged", "api-no-metrics")}`);
  await measureBadBodyStall();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

type Mode = (typeof MODES)[number];

async function measure(mode: Mode): Promise<{ rps: number; p50: number; p99: number; cpu: number }> {
  const server = Bun.spawn(["bun", join(import.meta.dir, "bench-api-server.ts"), mode, path, TOKEN], { stdout: "pipe", stderr: "inherit" });
  try {
    const url = await firstUrl(server.stdout);
    // Warm up (JIT, page cache) before measuring.
    await run(["wrk", "-t1", `-c${CONNECTIONS}`, "-d1s", "-s", join(dir, "requests.lua"), url]);
    const cpuBefore = cpuMicros(server.pid);
    const out = await run(["wrk", "-t1", `-c${CONNECTIONS}`, `-d${SECONDS}s`, "--latency", "-s", join(dir, "requests.lua"), url]);
    const cpuUsed = cpuMicros(server.pid) - cpuBefore;
    const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
    if (non2xx) throw new Error(`${mode}: ${non2xx[1]} requests failed:\n${out}`);
    const requests = Number(/(\d+) requests in/.exec(out)![1]);
    return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]), p50: latency(out, "50%"), p99: latency(out, "99%"), cpu: cpuUsed / requests };
  } finally {
    server.kill();
    await server.exited;
  }
}

/**
 * The worst wait of /health (probed every 2 ms from this process) while the server, run as
 * `serve` runs it, reads a 64 MiB JSON body of zeros (32 million bad rows, the default body
 * limit) and answers its 422. Target: <= 50 ms. Before the body was read as it arrives: 21 s
 * for an 8 MB body.
 */
async function measureBadBodyStall(): Promise<void> {
  const count = Math.floor((64 * 1024 * 1024 - 1) / 2);
  const body = new Uint8Array(2 * count + 1).fill(0x2c);
  body[0] = 0x5b;
  for (let i = 1; i < body.length; i += 2) body[i] = 0x30;
  body[body.length - 1] = 0x5d;
  const bodyFile = join(dir, "zeros.json");
  writeFileSync(bodyFile, body);
  const worst: number[] = [];
  const p99: number[] = [];
  for (let round = 0; round < Math.max(3, ROUNDS); round++) {
    const server = Bun.spawn(["bun", join(import.meta.dir, "bench-api-server.ts"), "api-worker", path, TOKEN], { stdout: "pipe", stderr: "inherit" });
    try {
      const url = await firstUrl(server.stdout);
      let done = false;
      const waits: number[] = [];
      const probing = (async () => {
        while (!done) {
          const started = performance.now();
          await (await fetch(`${url}/health`)).arrayBuffer();
          waits.push(performance.now() - started);
          await Bun.sleep(2);
        }
      })();
      // Sent by another process (curl), so that this one does nothing but probe.
      const status = Number(
        await run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/json", "-H", `Authorization: Bearer ${TOKEN}`, "--data-binary", `@${bodyFile}`, `${url}/v1/bars/ZEROS`]),
      );
      done = true;
      await probing;
      if (status !== 422) throw new Error(`the 64 MiB bad body answered ${status}, not 422`);
      waits.sort((a, b) => a - b);
      worst.push(waits.at(-1)!);
      p99.push(waits[Math.floor(waits.length * 0.99)]!);
      console.log(`  round ${round + 1} 64 MiB bad body: ${waits.length} /health probes, p99 ${p99.at(-1)!.toFixed(1)} ms, worst ${worst.at(-1)!.toFixed(1)} ms`);
    } finally {
      server.kill();
      await server.exited;
    }
  }
  const stall = median(worst);
  console.log(`/health's worst wait while a 64 MiB bad JSON body is read: median ${stall.toFixed(1)} ms (p99 ${median(p99).toFixed(1)} ms; target <= ${STALL_TARGET_MS} ms): ${stall <= STALL_TARGET_MS ? "PASS" : "MISSED"}`);
}

/** A process's user and system CPU time so far, in microseconds (Linux: /proc/PID/stat, in clock ticks of 10 ms). */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
  // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

function latency(out: string, percentile: string): number {
  const match = new RegExp(`^\\s*${percentile}\\s+([\\d.]+)(us|ms|s)`, "m").exec(out);
  if (!match) throw new Error(`no ${percentile} latency in wrk's output:\n${out}`);
  const value = Number(match[1]);
  return match[2] === "us" ? value / 1000 : match[2] === "s" ? value * 1000 : value;
}

async function run(command: string[]): Promise<string> {
  const child = Bun.spawn(command, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`${command[0]} exited ${code}: ${err}`);
  return out;
}

async function firstUrl(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  const reader = stream.getReader();
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    const match = /listening on (http:\/\/\S+)/.exec(text);
    if (match) {
      // The rest is the access log (api-logged): drained and dropped, as a collector reads it.
      void (async () => {
        while (!(await reader.read()).done);
      })();
      return match[1]!;
    }
  }
  throw new Error(`the server exited before listening: ${text}`);
}
