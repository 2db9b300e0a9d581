/**
 * Case 25 of `bun run bench` (alone: `bun scripts/bench-live.ts [--quick] [--watchers N]`): do
 * watchers slow the writers? A recorder process writes a live minute of a 5,000-symbol market
 * (one transaction of 5,000 one-bar `insertBars`, as bench:scale's live day) every PACE_MS, into
 * the file a `tradelite serve` process serves (its default store: the worker). As many minutes
 * are written with no one watching (half before, half after) as with 1,000 Server-Sent Events
 * streams open from a third process (each watching 5 symbols, so every symbol has a watcher).
 * Reported: the writer's median and p99 milliseconds per minute, unwatched and watched, and their
 * ratio (target: watched >= 0.9 of unwatched speed, i.e. at most 10% slower); how many events
 * every watcher got (each must get every bar of its symbols) with their delay after the minute's
 * transaction began; the serve process's CPU per minute written, and the viewers' process's.
 *
 * A live market writes a minute every 60 s; PACE_MS compresses that (a minute every 0.5 s) so a
 * run takes seconds, which makes the watchers' work per minute a larger share than in a real
 * session, not a smaller one.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { marketSymbols, openScaleDatabase } from "./bench-scale.ts";
import { median, percentile } from "./bench-support.ts";
import { linesOf } from "../src/client/lines.ts";

const SYMBOLS = 5_000;
const PACE_MS = 500;
const T0 = Date.parse("2025-12-31T01:31:00Z");
const MINUTE = 60_000;
const WATCHED_PER_STREAM = 5;
const TARGET = 0.9;

export interface LiveBenchContext {
  readonly workDir: string;
  readonly quick: boolean;
  readonly watchers?: number;
}

export interface LiveBenchResults {
  watchers: number;
  minutes: number;
  unwatched: { p50Ms: number; p99Ms: number };
  watched: { p50Ms: number; p99Ms: number };
  /** Unwatched median / watched median: 1 is no slower. */
  ratio: number;
  /** The serve process's CPU (user + system) per minute written, in ms, in both runs. */
  serverCpuMsPerMinute: { unwatched: number; watched: number };
  /** Its busiest threads while watched (CPU ms per minute), from /proc/<pid>/task/<tid>/stat. */
  serverThreads: { name: string; cpuMsPerMinute: number }[];
  /** The viewers' process (parsing every event of every stream), CPU ms per minute written: it shares the cores too. */
  viewersCpuMsPerMinute: number;
  /** Events every watcher got, against the bars of its symbols written while it watched. */
  delivered: { events: number; expected: number; p50DelayMs: number; p99DelayMs: number };
}

const wallNow = () => performance.timeOrigin + performance.now();

export async function runLiveCase(context: LiveBenchContext): Promise<LiveBenchResults> {
  const watchers = context.watchers ?? 1_000;
  const minutes = context.quick ? 10 : 30;
  const dir = mkdtempSync(join(context.workDir, "live-"));
  const path = join(dir, "live.db");
  console.log(`\n25. watchers and writers: a recorder writes ${minutes} live minutes of ${SYMBOLS.toLocaleString("en-US")} symbols (one every ${PACE_MS} ms) into the file a serve process serves, unwatched (half before, half after) and with ${watchers.toLocaleString("en-US")} SSE streams of ${WATCHED_PER_STREAM} symbols each`);
  openScaleDatabase(path).close();
  const server = await startServe(path);
  try {
    // Unwatched minutes before and after the watched ones (A B A): the table grows and the
    // machine's load drifts during a run, and a run of 0 watchers measured one block after the
    // other as x0.41 (the later block slower with no one watching).
    const half = Math.floor(minutes / 2);
    const before = threadCpu(server.proc.pid);
    const unwatchedFirst = await runWriter(path, 0, half);
    const between = threadCpu(server.proc.pid);
    const viewers = Bun.spawn([process.execPath, import.meta.path, "--viewers", JSON.stringify({ url: server.url, watchers, expected: watchers * WATCHED_PER_STREAM * minutes })], {
      // Bun's fetch opens at most 256 connections at once by default: the rest would queue
      // behind streams that never end.
      env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: String(watchers + 16) },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "inherit",
    });
    const lines = linesOf(viewers.stdout);
    const opened = JSON.parse((await lines.next()).value!) as { opened: number };
    if (opened.opened !== watchers) throw new Error(`only ${opened.opened} of ${watchers} streams opened`);
    // The viewers' process loads and compiles for seconds after its streams open (335 ms of CPU
    // a minute written with 0 streams, all of it start-up): the watched minutes start once it is quiet.
    await quiet([viewers.pid, server.proc.pid]);
    const viewersBefore = threadCpu(viewers.pid);
    const watchedStart = threadCpu(server.proc.pid);
    const watched = await runWriter(path, half, minutes);
    const after = threadCpu(server.proc.pid);
    const viewersCpu = cpuTotal(viewersBefore, threadCpu(viewers.pid));
    // Closing its stdin ends the viewing (a SIGTERM listener would do, but Bun 1.4 spins a core
    // while one waits: 0 streams measured x0.57 that way).
    void viewers.stdin.end();
    const report = JSON.parse((await lines.next()).value!) as { events: number; p50DelayMs: number; p99DelayMs: number };
    await viewers.exited;
    const closed = threadCpu(server.proc.pid);
    const unwatchedLast = await runWriter(path, half + minutes, minutes - half);
    const end = threadCpu(server.proc.pid);
    const unwatched = [...unwatchedFirst, ...unwatchedLast];
    const expected = watchers * WATCHED_PER_STREAM * minutes;
    const results: LiveBenchResults = {
      watchers,
      minutes,
      unwatched: { p50Ms: median(unwatched), p99Ms: percentile(unwatched, 99) },
      watched: { p50Ms: median(watched), p99Ms: percentile(watched, 99) },
      ratio: median(unwatched) / median(watched),
      serverCpuMsPerMinute: { unwatched: (cpuTotal(before, between) + cpuTotal(closed, end)) / minutes, watched: cpuTotal(watchedStart, after) / minutes },
      serverThreads: busiest(watchedStart, after, minutes),
      viewersCpuMsPerMinute: viewersCpu / minutes,
      delivered: { events: report.events, expected, p50DelayMs: report.p50DelayMs, p99DelayMs: report.p99DelayMs },
    };
    console.log(
      `  writer ms per minute, median (p99): unwatched ${results.unwatched.p50Ms.toFixed(1)} (${results.unwatched.p99Ms.toFixed(1)}), ` +
        `watched ${results.watched.p50Ms.toFixed(1)} (${results.watched.p99Ms.toFixed(1)}); speed watched/unwatched ${results.ratio.toFixed(2)} (target >= ${TARGET})`,
    );
    console.log(
      `  events delivered ${report.events.toLocaleString("en-US")} of ${expected.toLocaleString("en-US")}; delay after the minute's commit p50 ${results.delivered.p50DelayMs.toFixed(0)} ms, p99 ${results.delivered.p99DelayMs.toFixed(0)} ms`,
    );
    console.log(
      `  serve process CPU per minute written: unwatched ${results.serverCpuMsPerMinute.unwatched.toFixed(0)} ms, watched ${results.serverCpuMsPerMinute.watched.toFixed(0)} ms ` +
        `(busiest threads watched: ${results.serverThreads.map((thread) => `${thread.name} ${thread.cpuMsPerMinute.toFixed(0)}`).join(", ")}); ` +
        `the viewers' process ${results.viewersCpuMsPerMinute.toFixed(0)} ms`,
    );
    return results;
  } finally {
    server.proc.kill("SIGTERM");
    await server.proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The summary line of case 25; the missed target, if any. */
export function printLiveSummary(results: LiveBenchResults): string[] {
  console.log("\nWatchers and writers (25):");
  console.log(
    `  ${results.watchers.toLocaleString("en-US")} SSE watchers: writer speed watched/unwatched ${results.ratio.toFixed(2)} (target >= ${TARGET}); ` +
      `serve CPU per minute ${results.serverCpuMsPerMinute.unwatched.toFixed(0)} -> ${results.serverCpuMsPerMinute.watched.toFixed(0)} ms; ` +
      `delivered ${results.delivered.events} of ${results.delivered.expected}`,
  );
  const missed: string[] = [];
  if (results.ratio < TARGET) missed.push(`25 ${results.watchers} watchers slow the writer to x${results.ratio.toFixed(2)} of its unwatched speed < x${TARGET}`);
  if (results.delivered.events < results.delivered.expected) missed.push(`25 watchers got ${results.delivered.events} of ${results.delivered.expected} events`);
  return missed;
}

/** CPU ms (user + system) of each thread of `pid` so far, by thread id and name (Linux /proc; empty elsewhere). */
function threadCpu(pid: number): Map<string, { name: string; ms: number }> {
  const threads = new Map<string, { name: string; ms: number }>();
  const tickMs = 10; // USER_HZ is 100 on Linux
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const name = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" ");
      // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the name.
      threads.set(tid, { name, ms: (Number(fields[11]) + Number(fields[12])) * tickMs });
    }
  } catch {
    // Not Linux, or the process is gone.
  }
  return threads;
}

/** Waits (at most 20 s) until `pids` together use under 10% of a core over a quarter second. */
async function quiet(pids: readonly number[]): Promise<void> {
  const total = () => pids.reduce((sum, pid) => sum + cpuTotal(new Map(), threadCpu(pid)), 0);
  const until = Date.now() + 20_000;
  let last = total();
  while (Date.now() < until) {
    await Bun.sleep(250);
    const now = total();
    if (now - last < 25) return;
    last = now;
  }
}

function cpuTotal(from: Map<string, { ms: number }>, to: Map<string, { ms: number }>): number {
  let ms = 0;
  for (const [tid, thread] of to) ms += thread.ms - (from.get(tid)?.ms ?? 0);
  return ms;
}

function busiest(from: Map<string, { ms: number }>, to: Map<string, { name: string; ms: number }>, minutes: number): { name: string; cpuMsPerMinute: number }[] {
  return [...to]
    .map(([tid, thread]) => ({ name: `${thread.name}#${tid}`, cpuMsPerMinute: (thread.ms - (from.get(tid)?.ms ?? 0)) / minutes }))
    .sort((a, b) => b.cpuMsPerMinute - a.cpuMsPerMinute)
    .slice(0, 4);
}

async function startServe(path: string): Promise<{ proc: ReturnType<typeof Bun.spawn>; url: string }> {
  // BENCH_LIVE_PROFILE=<dir>: the serve process writes a CPU profile (markdown) there when it exits.
  const profile = process.env.BENCH_LIVE_PROFILE ? ["--cpu-prof-md", `--cpu-prof-dir=${process.env.BENCH_LIVE_PROFILE}`] : [];
  const proc = Bun.spawn([process.execPath, ...profile, join(import.meta.dir, "serve.ts")], {
    env: { ...process.env, TRADELITE_DB: path, TRADELITE_PORT: "0", TRADELITE_TIMEZONE: "Asia/Shanghai" },
    stdout: "pipe",
    stderr: "inherit",
  });
  for await (const line of linesOf(proc.stdout)) {
    const match = /listening on (http:\/\/\S+)/.exec(line);
    if (match) return { proc, url: match[1]! };
  }
  throw new Error("the serve process did not start");
}

/** The recorder, in its own process: the milliseconds of each minute's transaction. */
async function runWriter(path: string, firstMinute: number, minutes: number): Promise<number[]> {
  const child = Bun.spawn([process.execPath, import.meta.path, "--writer", JSON.stringify({ path, firstMinute, minutes })], { stdout: "pipe", stderr: "inherit" });
  const text = await new Response(child.stdout).text();
  if ((await child.exited) !== 0) throw new Error("the writer failed");
  return JSON.parse(text) as number[];
}

function writeMinutes(job: { path: string; firstMinute: number; minutes: number }): void {
  const db = openScaleDatabase(job.path);
  const symbols = marketSymbols(SYMBOLS);
  const times: number[] = [];
  try {
    for (let m = job.firstMinute; m < job.firstMinute + job.minutes; m++) {
      const paced = wallNow() + PACE_MS;
      const timestamp = T0 + m * MINUTE;
      const started = performance.now();
      db.transaction(() => {
        // The commit's wall-clock time rides in `amount`, so a watcher can tell its delay.
        const stamp = wallNow();
        for (let s = 0; s < symbols.length; s++) db.insertBars(symbols[s]!, [{ timestamp, open: 10, high: 11, low: 9, close: 10 + s / 1e4, volume: 100, amount: stamp }]);
      });
      times.push(performance.now() - started);
      Bun.sleepSync(Math.max(0, paced - wallNow()));
    }
  } finally {
    db.close();
  }
  process.stdout.write(JSON.stringify(times));
}

/** The viewers, in their own process: `watchers` SSE streams, 5 symbols each; counts until its stdin closes. */
async function watchStreams(job: { url: string; watchers: number; expected: number }): Promise<void> {
  const symbols = marketSymbols(SYMBOLS);
  let events = 0;
  const delays: number[] = [];
  const decoder = new TextDecoder();
  const streams = Array.from({ length: job.watchers }, (_, w) => {
    const watched = Array.from({ length: WATCHED_PER_STREAM }, (_, k) => symbols[(w * WATCHED_PER_STREAM + k) % symbols.length]!);
    return fetch(`${job.url}/v1/stream?symbols=${watched.join(",")}`);
  });
  const responses = await Promise.all(streams);
  const reading = responses.map(async (response) => {
    let text = "";
    for await (const chunk of response.body!) {
      text += decoder.decode(chunk, { stream: true });
      for (let end = text.indexOf("\n\n"); end >= 0; end = text.indexOf("\n\n")) {
        const block = text.slice(0, end);
        text = text.slice(end + 2);
        if (!block.includes("event: bar")) continue;
        events++;
        const data = block.slice(block.indexOf("data: ") + 6);
        delays.push(wallNow() - (JSON.parse(data) as { bar: { amount: number } }).bar.amount);
      }
    }
  });
  // Every stream has its `ready` before the writer starts.
  await Promise.all(responses.map(async (response) => response.ok || Promise.reject(new Error(`stream answered ${response.status}`))));
  process.stdout.write(`${JSON.stringify({ opened: responses.length })}\n`);
  await new Response(Bun.stdin.stream()).text();
  // Let what is on its way arrive: the last minutes' events.
  const settle = Date.now() + 10_000;
  while (Date.now() < settle && events < job.expected) await Bun.sleep(50);
  // Percentiles, not the delays: 50,000 of them are a line that process.exit() cuts off in the pipe.
  const [p50DelayMs, p99DelayMs] = delays.length > 0 ? [percentile(delays, 50), percentile(delays, 99)] : [0, 0];
  process.stdout.write(`${JSON.stringify({ events, p50DelayMs, p99DelayMs })}\n`);
  void reading;
  process.exit(0);
}

const args = process.argv.slice(2);
if (args[0] === "--writer") writeMinutes(JSON.parse(args[1]!));
else if (args[0] === "--viewers") await watchStreams(JSON.parse(args[1]!));
else if (import.meta.main) {
  const workDir = mkdtempSync(join(tmpdir(), "tradelite-bench-live-"));
  try {
    const at = args.indexOf("--watchers");
    printLiveSummary(await runLiveCase({ workDir, quick: args.includes("--quick"), ...(at >= 0 ? { watchers: Number(args[at + 1]) } : {}) }));
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
