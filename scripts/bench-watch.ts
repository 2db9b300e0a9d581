/**
 * Cases 22 and 23 of `bun run bench` (alone: `bun scripts/bench-watch.ts [--quick]`): what
 * store.watch (src/domain/watch.ts) delivers and what its change log costs the hot path.
 *
 * 22. Latency: a separate process writes one bar at a time (one insertBars each, through
 *     tradelite, as a recorder does) and stamps the bar's `amount` with the wall-clock time just
 *     before the write; a watcher here reads the arrival time when the event comes out of the
 *     iterator. The difference includes the write itself. p50 and p99 on SQLite (in-thread), the
 *     worker backend, and PostgreSQL ($TRADELITE_BENCH_POSTGRES_URL's server, skipped without
 *     one). Target: p99 <= 20 ms.
 * 23. The change log's cost on the 240-row append: the bare per-row loop in one transaction,
 *     alone and with the one bar_changes row insertBars adds, on files that differ only in that
 *     table; the sides take turns batch by batch. Also insertBars itself against the bare loop
 *     (case 1's ratio), as shipped.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { openDatabase, openStore, type StoreOptions } from "../src/mod.ts";
import { BARE_UPSERT_SQL, median, openBare, percentile } from "./bench-support.ts";
import { createScratchDatabase } from "./postgres-scratch.ts";
import { randomWalk, sessionTimestamps, sliceColumns } from "./synthetic-bars.ts";

const ADMIN_URL = process.env.TRADELITE_BENCH_POSTGRES_URL || "postgres://postgres@127.0.0.1:5432/postgres";
const LATENCY_TARGET_MS = 20;
/** What the change log may add to a 240-row append, at most (the issue: "a few percent"). */
const HOT_PATH_TARGET = 1.05;
const MINUTE = 60_000;
const T0 = Date.UTC(2030, 0, 2, 1, 31);

export interface WatchBenchContext {
  readonly workDir: string;
  readonly quick: boolean;
}

interface Latency {
  backend: string;
  bars: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The writer's own insertBars calls, p99: included in the latency. */
  writeP99Ms: number;
}

export interface WatchBenchResults {
  latency: (Latency | { backend: string; skipped: string })[];
  hotPath: { batchRows: number; batches: number; bareMs: number; withLogMs: number; ratio: number; insertBarsMs: number; insertBarsRatio: number };
}

/** Now as fractional epoch ms, comparable between processes on this machine. */
const wallNow = () => performance.timeOrigin + performance.now();

export async function runWatchCases(context: WatchBenchContext): Promise<WatchBenchResults> {
  const { workDir, quick } = context;
  const bars = quick ? 150 : 600;
  console.log(`\n22. watch latency: a separate process writes ${bars} one-bar batches, one every 10 ms; arrival at a watcher here (ms)`);
  const latency: WatchBenchResults["latency"] = [];
  const path = join(workDir, "watch-latency.db");
  openDatabase({ path }).close();
  latency.push(await latencyCase("sqlite", { backend: "sqlite", path }, { backend: "sqlite", path }, bars));
  latency.push(await latencyCase("sqlite-worker", { backend: "sqlite-worker", path }, { backend: "sqlite", path }, bars));
  latency.push(await postgresLatency(bars));
  for (const row of latency) {
    if ("skipped" in row) console.log(`  ${row.backend}: skipped (${row.skipped})`);
    else {
      console.log(
        `  ${row.backend}: p50 ${row.p50Ms.toFixed(2)}, p99 ${row.p99Ms.toFixed(2)}, max ${row.maxMs.toFixed(2)} over ${row.bars} bars ` +
          `(target p99 <= ${LATENCY_TARGET_MS}); the writes alone p99 ${row.writeP99Ms.toFixed(2)}`,
      );
    }
  }

  console.log("\n23. the change log on the 240-row append: the bare loop alone and with the one bar_changes row (ms per batch, median)");
  const hotPath = hotPathCase(workDir, quick ? 300 : 1_500);
  console.log(
    `  bare ${hotPath.bareMs.toFixed(3)}, with the change row ${hotPath.withLogMs.toFixed(3)} (x${hotPath.ratio.toFixed(3)}); ` +
      `insertBars as shipped ${hotPath.insertBarsMs.toFixed(3)} (bare/insertBars ${hotPath.insertBarsRatio.toFixed(2)})`,
  );
  return { latency, hotPath };
}

async function postgresLatency(bars: number): Promise<WatchBenchResults["latency"][number]> {
  const probe = new SQL({ url: ADMIN_URL, max: 1, connectionTimeout: 3 });
  try {
    await probe`SELECT 1`;
  } catch (error) {
    return { backend: "postgres", skipped: `no server at ${ADMIN_URL}: ${(error as Error).message}` };
  } finally {
    await probe.close();
  }
  const scratch = await createScratchDatabase(ADMIN_URL, `tradelite_bench_watch_${process.pid}`);
  try {
    const options: StoreOptions = { backend: "postgres", url: scratch.url, max: 2 };
    return await latencyCase("postgres", options, options, bars);
  } finally {
    await scratch.drop();
  }
}

async function latencyCase(label: string, watcherOptions: StoreOptions, writerOptions: StoreOptions, bars: number): Promise<Latency> {
  const store = await openStore(watcherOptions);
  try {
    const symbol = `W${label.replace(/[^a-z]/g, "").toUpperCase()}`;
    const watch = store.watch({ symbols: [symbol] });
    await watch.ready;
    const child = Bun.spawn([process.execPath, import.meta.path, "--writer", JSON.stringify({ store: writerOptions, symbol, bars })], {
      stdout: "pipe",
      stderr: "inherit",
    });
    const delays: number[] = [];
    for await (const event of watch) {
      delays.push(wallNow() - event.bar.amount!);
      if (delays.length === bars) break;
    }
    const [written, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
    if (code !== 0) throw new Error(`the ${label} writer failed`);
    const { writeP99Ms } = JSON.parse(written) as { writeP99Ms: number };
    return { backend: label, bars, p50Ms: percentile(delays, 50), p99Ms: percentile(delays, 99), maxMs: Math.max(...delays), writeP99Ms };
  } finally {
    await store.close();
  }
}

/** The writer process: one bar per insertBars, every 10 ms, stamped with the time before the write. */
async function writeBars(job: { store: StoreOptions; symbol: string; bars: number }): Promise<void> {
  const store = await openStore(job.store);
  const writes: number[] = [];
  try {
    for (let i = 0; i < job.bars; i++) {
      await Bun.sleep(10);
      const start = wallNow();
      await store.insertBars(job.symbol, [{ timestamp: T0 + i * MINUTE, open: 1, high: 1, low: 1, close: 1, volume: 1, amount: start }]);
      writes.push(wallNow() - start);
    }
  } finally {
    await store.close();
  }
  // What the write alone took: the part of the latency that is the writer's commit, not the watch.
  console.log(JSON.stringify({ writeP99Ms: percentile(writes, 99) }));
}

function hotPathCase(workDir: string, batches: number): WatchBenchResults["hotPath"] {
  const batchRows = 240;
  const schema = `CREATE TABLE market_data (symbol TEXT NOT NULL, timestamp TIMESTAMP NOT NULL, open REAL, high REAL, low REAL, close REAL,
    volume INTEGER, amount REAL, PRIMARY KEY (symbol, timestamp)) WITHOUT ROWID`;
  const bare = openBare(join(workDir, "hot-bare.db"));
  bare.run(schema);
  const logged = openBare(join(workDir, "hot-logged.db"));
  logged.run(schema);
  // The table and statement of src/sqlite/changes.ts.
  logged.run(`CREATE TABLE bar_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, symbol TEXT NOT NULL, series TEXT NOT NULL,
    first_timestamp INTEGER NOT NULL, last_timestamp INTEGER NOT NULL, kind TEXT NOT NULL)`);
  const appendChange = logged.prepare("INSERT INTO bar_changes (symbol, series, first_timestamp, last_timestamp, kind) VALUES (?, 'minutes', ?, ?, 'upsert')");
  const shipped = openDatabase({ path: join(workDir, "hot-shipped.db") });
  const upserts = [bare.prepare(BARE_UPSERT_SQL), logged.prepare(BARE_UPSERT_SQL)] as const;
  const timestamps = sessionTimestamps("2030-01-02", batchRows * batches);
  const walk = randomWalk(timestamps, 7);
  const times = { bare: [] as number[], logged: [] as number[], shipped: [] as number[] };
  for (let b = 0; b < batches; b++) {
    const symbol = `S${b % 50}`;
    const bars = sliceColumns(walk, b * batchRows, (b + 1) * batchRows);
    for (const [side, sqlite] of [["bare", bare], ["logged", logged]] as const) {
      const upsert = upserts[side === "bare" ? 0 : 1];
      const start = Bun.nanoseconds();
      sqlite.run("BEGIN IMMEDIATE");
      for (let row = 0; row < batchRows; row++) {
        upsert.run(symbol, bars.timestamp[row]!, bars.open[row]!, bars.high[row]!, bars.low[row]!, bars.close[row]!, bars.volume[row]!, bars.amount[row]!);
      }
      if (side === "logged") appendChange.run(symbol, bars.timestamp[0]!, bars.timestamp[batchRows - 1]!);
      sqlite.run("COMMIT");
      times[side].push((Bun.nanoseconds() - start) / 1e6);
    }
    const start = Bun.nanoseconds();
    shipped.insertBars(symbol, bars);
    times.shipped.push((Bun.nanoseconds() - start) / 1e6);
  }
  bare.close();
  logged.close();
  shipped.close();
  const bareMs = median(times.bare);
  const withLogMs = median(times.logged);
  const insertBarsMs = median(times.shipped);
  return { batchRows, batches, bareMs, withLogMs, ratio: withLogMs / bareMs, insertBarsMs, insertBarsRatio: bareMs / insertBarsMs };
}

/** The watch lines of the closing table; returns the targets missed. */
export function printWatchSummary(results: WatchBenchResults): string[] {
  const missed: string[] = [];
  const { latency, hotPath } = results;
  console.log("\nWatch (22, 23):");
  for (const row of latency) {
    if ("skipped" in row) continue;
    console.log(`  ${row.backend} watch latency p99 ${row.p99Ms.toFixed(2)} ms (target <= ${LATENCY_TARGET_MS})`);
    if (row.p99Ms > LATENCY_TARGET_MS) missed.push(`22 ${row.backend} watch latency p99 ${row.p99Ms.toFixed(1)} ms > ${LATENCY_TARGET_MS} ms`);
  }
  console.log(`  change log on a 240-row append: x${hotPath.ratio.toFixed(3)} of the bare loop (target <= x${HOT_PATH_TARGET})`);
  if (hotPath.ratio > HOT_PATH_TARGET) missed.push(`23 the change log makes a 240-row append x${hotPath.ratio.toFixed(3)} > x${HOT_PATH_TARGET}`);
  return missed;
}

const args = process.argv.slice(2);
if (args[0] === "--writer") {
  await writeBars(JSON.parse(args[1]!));
} else if (import.meta.main) {
  const workDir = mkdtempSync(join(tmpdir(), "tradelite-bench-watch-"));
  try {
    printWatchSummary(await runWatchCases({ workDir, quick: args.includes("--quick") }));
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
