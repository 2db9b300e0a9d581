/**
 * `bun run bench:api`: requests/s and p50/p99 latency of one-day `GET /v1/bars/:symbol` windows
 * (a random symbol and day per request) through tradelite's API (token, Host check and zod
 * validation on) next to a bare Bun.serve handler running the same query with a prepared
 * statement, .all() and JSON.stringify, in the same run. Load comes from a separate process,
 * Debian's wrk (`apt-get install wrk`), with 32 keep-alive connections. Rounds alternate between
 * the two servers so drift on this shared machine hits both alike; the figures are medians.
 * Target: API >= 0.9 x bare requests/s (stretch >= 1.0), with the in-thread store (the work the
 * bare handler does). The same API over the sqlite-worker store (what `serve` runs; its readers
 * write the answer's bytes) has the same target and an idle one: one connection's p99 no worse
 * than the in-thread API's x1.5. Beside it `bare-worker`, the bare handler's query and stringify
 * in two plain Workers: what answering from another thread costs in this runtime, whatever the
 * API does (Bun 1.4 writes an answer completed after an await one send() per header fragment,
 * oven-sh/bun#41341). Each server's main-thread CPU a request is printed beside its total.
 * The access log's cost is measured beside it: the in-thread API with the log on (JSON lines to a
 * pipe that this process drains, as a log collector would), target >= 0.95 of the API without.
 * So is the metrics' (GET /metrics: every request and store call timed and counted, on by
 * default): the API as shipped, target >= 0.95 of the API with `metrics: false`; and both at
 * once, the API with the log on >= 0.95 of the API with neither (`metrics: false`, no log). Beside
 * requests/s, each server's own CPU time a request (Linux /proc) gives the same ratios with less
 * of the noise other load on a shared machine brings.
 * Last, /health's worst wait while a 64 MiB bad JSON body is read (target <= 50 ms).
 * Options: --quick (fewer rounds, shorter), --seconds N, --rounds N, --modes bare,api,... (a subset
 * of the servers; the ratios whose servers ran are printed), --no-stall (skip the bad-body stall).
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
const IDLE_TARGET = 1.5;
const IDLE_SECONDS = quick ? 1 : 3;
const TOKEN = "bench-token-0123456789abcdef";
// The API sits between its two variants, so each comparison is of neighbours in every round.
const ALL_MODES = ["bare", "api-no-metrics", "api", "api-logged", "api-worker", "bare-worker"] as const;
const chosen = args.includes("--modes") ? args[args.indexOf("--modes") + 1]!.split(",") : [...ALL_MODES];
const MODES = ALL_MODES.filter((mode) => chosen.includes(mode));

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
  const results = Object.fromEntries(MODES.map((mode) => [mode, { rps: [], p50: [], p99: [], cpu: [], mainCpu: [], idleP50: [], idleP99: [] }])) as unknown as Record<
    Mode,
    { [K in keyof Figures]: number[] }
  >;
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of round % 2 === 0 ? MODES : [...MODES].reverse()) {
      const figures = await measure(mode);
      for (const key of Object.keys(figures) as (keyof Figures)[]) results[mode][key].push(figures[key]);
      console.log(
        `  round ${round + 1} ${mode.padEnd(14)} ${Math.round(figures.rps).toLocaleString("en-US").padStart(7)} req/s  p50 ${figures.p50.toFixed(2)} ms  p99 ${figures.p99.toFixed(2)} ms  ${figures.cpu.toFixed(0)} us CPU/req (server thread ${figures.mainCpu.toFixed(0)})  idle p50 ${figures.idleP50.toFixed(2)} ms p99 ${figures.idleP99.toFixed(2)} ms`,
      );
    }
  }
  const ran = (...modes: Mode[]) => modes.every((mode) => MODES.includes(mode));
  console.log("");
  console.log("| server | requests/s | p50 ms | p99 ms | server CPU us/request (its main thread) | idle p50 ms | idle p99 ms |");
  console.log("|---|---|---|---|---|---|---|");
  const LABELS: Record<Mode, string> = {
    bare: "bare Bun.serve + .all() + JSON.stringify",
    api: "tradelite API (token, Host check, zod, metrics), in-thread store",
    "api-no-metrics": "the same API with metrics: false (and no access log: neither)",
    "api-logged": "the same API with the access log on (JSON lines to a pipe)",
    "api-worker": "the same API over the sqlite-worker store (what serve runs)",
    "bare-worker": "the bare handler's query and stringify in two plain Workers (the ceiling of any answer from another thread)",
  };
  for (const mode of MODES) {
    console.log(`| ${LABELS[mode]} | ${Math.round(median(results[mode].rps)).toLocaleString("en-US")} | ${median(results[mode].p50).toFixed(2)} | ${median(results[mode].p99).toFixed(2)} | ${median(results[mode].cpu).toFixed(0)} (${median(results[mode].mainCpu).toFixed(0)}) | ${median(results[mode].idleP50).toFixed(2)} | ${median(results[mode].idleP99).toFixed(2)} |`);
  }
  // A benchmark, not a test (like bun run bench): it says whether the target was met, exit 0.
  // The ratios are medians of each round's ratio: neighbours in a round share the machine's drift.
  const paired = (mode: Mode, base: Mode) => median(results[mode].rps.map((rps, round) => rps / results[base].rps[round]!));
  const verdict = (ratio: number, target: number) => `${ratio.toFixed(2)} (target >= ${target}): ${ratio >= target ? "PASS" : "MISSED"}`;
  if (ran("api", "bare")) console.log(`API / bare requests/s: ${verdict(paired("api", "bare"), TARGET)}`);
  if (ran("api-worker", "bare")) console.log(`API over the worker store / bare requests/s: ${verdict(paired("api-worker", "bare"), TARGET)}`);
  if (ran("api-worker", "bare-worker")) console.log(`API over the worker store / bare handler over two Workers requests/s: ${paired("api-worker", "bare-worker").toFixed(2)} (what the API costs above the thread hop)`);
  if (ran("bare-worker", "bare")) console.log(`Bare handler over two Workers / bare requests/s: ${paired("bare-worker", "bare").toFixed(2)} (the runtime's price of answering from another thread, on this machine)`);
  if (ran("api-worker", "api")) {
    console.log(`API over the worker store / in-thread API requests/s: ${paired("api-worker", "api").toFixed(2)} (for the record)`);
    const idle = median(results["api-worker"].idleP99) / median(results.api.idleP99);
    console.log(`Idle p99, worker store / in-thread: ${idle.toFixed(2)} (target <= ${IDLE_TARGET}): ${idle <= IDLE_TARGET ? "PASS" : "MISSED"}`);
  }
  if (ran("api-logged", "api")) console.log(`API with the access log / API requests/s: ${verdict(paired("api-logged", "api"), LOG_TARGET)}`);
  if (ran("api", "api-no-metrics")) console.log(`API with metrics / API with metrics: false requests/s: ${verdict(paired("api", "api-no-metrics"), LOG_TARGET)}`);
  if (ran("api-logged", "api-no-metrics")) console.log(`API with the access log and metrics / API with neither requests/s: ${verdict(paired("api-logged", "api-no-metrics"), LOG_TARGET)}`);
  // The server's own CPU time a request is what other load on a shared machine disturbs least.
  // Its main thread's alone leaves out JSC's JIT threads, still compiling after the warm-up: read
  // per thread (/proc/PID/task), 35-55 us a request of the in-thread API's ~300, varying by run.
  const cpu = (mode: Mode, base: Mode, key: "cpu" | "mainCpu") => (median(results[base][key]) / median(results[mode][key])).toFixed(2);
  const cpuRatios = (key: "cpu" | "mainCpu") =>
    [
      ran("api", "bare") && `API/bare ${cpu("api", "bare", key)}`,
      ran("api-logged", "api") && `access log ${cpu("api-logged", "api", key)}`,
      ran("api", "api-no-metrics") && `metrics ${cpu("api", "api-no-metrics", key)}`,
      ran("api-logged", "api-no-metrics") && `both ${cpu("api-logged", "api-no-metrics", key)}`,
    ]
      .filter(Boolean)
      .join(", ");
  if (cpuRatios("cpu") !== "") {
    console.log(`The same ratios from the server's CPU time a request: ${cpuRatios("cpu")}; its main thread's: ${cpuRatios("mainCpu")}`);
  }
  if (!args.includes("--no-stall")) await measureBadBodyStall();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

type Mode = (typeof ALL_MODES)[number];
type Figures = { rps: number; p50: number; p99: number; cpu: number; mainCpu: number; idleP50: number; idleP99: number };

async function measure(mode: Mode): Promise<Figures> {
  const server = Bun.spawn(["bun", join(import.meta.dir, "bench-api-server.ts"), mode, path, TOKEN], { stdout: "pipe", stderr: "inherit" });
  try {
    const url = await firstUrl(server.stdout);
    // Warm up (JIT, page cache) before measuring.
    await run(["wrk", "-t1", `-c${CONNECTIONS}`, "-d1s", "-s", join(dir, "requests.lua"), url]);
    const cpuBefore = cpuMicros(server.pid);
    const mainBefore = cpuMicros(server.pid, server.pid);
    const out = await run(["wrk", "-t1", `-c${CONNECTIONS}`, `-d${SECONDS}s`, "--latency", "-s", join(dir, "requests.lua"), url]);
    const cpuUsed = cpuMicros(server.pid) - cpuBefore;
    const mainUsed = cpuMicros(server.pid, server.pid) - mainBefore;
    const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
    if (non2xx) throw new Error(`${mode}: ${non2xx[1]} requests failed:\n${out}`);
    const requests = Number(/(\d+) requests in/.exec(out)![1]);
    // Idle: one connection, one request at a time (what a single client sees).
    const idle = await run(["wrk", "-t1", "-c1", `-d${IDLE_SECONDS}s`, "--latency", "-s", join(dir, "requests.lua"), url]);
    return {
      rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]),
      p50: latency(out, "50%"),
      p99: latency(out, "99%"),
      cpu: cpuUsed / requests,
      mainCpu: mainUsed / requests,
      idleP50: latency(idle, "50%"),
      idleP99: latency(idle, "99%"),
    };
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

/**
 * A process's user and system CPU time so far, in microseconds (Linux: /proc/PID/stat, in clock
 * ticks of 10 ms); with `thread`, that thread's alone (the server's own thread is the process id).
 */
function cpuMicros(pid: number, thread?: number): number {
  const file = thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`;
  const fields = readFileSync(file, "utf8").replace(/^.*\) /, "").split(" ");
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
