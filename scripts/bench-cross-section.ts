/**
 * The as-of cross-section's case of `bun run bench` (on its own: `bun scripts/bench-cross-section.ts
 * [--quick]`), on real files of the whole market's shape: 5,000 symbols of end-stamped
 * A-share minute bars (Asia/Shanghai).
 *
 * 18. `getCrossSection({ at, symbols })` of all 5,000 symbols at one instant, and without
 *     `symbols` (every symbol, found by the skip-scan), against the bare loop a user would write:
 *     one prepared `SELECT ... WHERE symbol = ? AND timestamp <= ? ORDER BY timestamp DESC
 *     LIMIT 1` per symbol. Medians of 9. Target: <= 50 ms on the 10,000,000-bar store
 *     (5,000 x 2,000 minutes); the 1,000,000-bar store (5,000 x 200) is printed beside it, to
 *     show the time follows the symbols, not the rows.
 *
 * The 10M store (800 MB) takes ~16-19 s to build here (one INSERT ... SELECT in SQL, in key
 * order), so `bun run bench` builds it; `--quick` builds the 1M store only and judges the target
 * there. Both files are removed after their case.
 */
import { Database as SqliteDatabase } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/mod.ts";
import { median, timed, type Sample } from "./bench-support.ts";
import { sessionTimestamps } from "./synthetic-bars.ts";

export interface CrossSectionCase {
  rows: number;
  symbols: number;
  buildSeconds: number;
  /** getCrossSection with the 5,000 symbols named. */
  namedMs: number;
  /** getCrossSection with symbols omitted (every symbol stored). */
  everyMs: number;
  /** The bare loop of one prepared lookup per symbol. */
  bareMs: number;
  targetMs: number | null;
  pass: boolean | null;
}

export interface CrossSectionBenchResults {
  cases: CrossSectionCase[];
}

const SYMBOLS = 5_000;
const REPS = 9;
const TARGET_MS = 50;
const FIRST_DAY = "2024-01-02";

/** 5,000 symbols: half Shanghai (600000.SH ...), half Shenzhen (000000.SZ ...). */
export function marketSymbols(count = SYMBOLS): string[] {
  return Array.from({ length: count }, (_, i) => (i < count / 2 ? `${600_000 + i}.SH` : `${String(i - count / 2).padStart(6, "0")}.SZ`));
}

/**
 * A store of `symbols.length` x `minutes` bars, built in one transaction by one INSERT ... SELECT
 * in SQL over two small tables (symbols and minutes), in key order; prices are a deterministic
 * hash of the pair. The file is created (schema, settings) by tradelite first.
 */
export function buildMarketStore(path: string, symbols: readonly string[], minutes: number): number {
  openDatabase({ path, timezone: "Asia/Shanghai", barTimestamp: "end" }).close();
  const started = Bun.nanoseconds();
  const sqlite = new SqliteDatabase(path);
  try {
    sqlite.run("PRAGMA synchronous = OFF");
    sqlite.run("CREATE TEMP TABLE bench_symbols (i INTEGER PRIMARY KEY, symbol TEXT NOT NULL)");
    sqlite.run("CREATE TEMP TABLE bench_minutes (i INTEGER PRIMARY KEY, timestamp INTEGER NOT NULL)");
    sqlite.transaction(() => {
      const addSymbol = sqlite.prepare("INSERT INTO bench_symbols VALUES (?, ?)");
      symbols.forEach((symbol, i) => addSymbol.run(i, symbol));
      const addMinute = sqlite.prepare("INSERT INTO bench_minutes VALUES (?, ?)");
      sessionTimestamps(FIRST_DAY, minutes).forEach((timestamp, i) => addMinute.run(i, timestamp));
      sqlite.run(`
        INSERT INTO market_data (symbol, timestamp, open, high, low, close, volume, amount)
        SELECT symbol, timestamp, price, price + 0.02, price - 0.02, price + 0.01, volume, volume * price
        FROM (
          SELECT s.symbol AS symbol, m.timestamp AS timestamp,
                 10 + ((s.i * 7919 + m.i * 104729) % 10007) / 100.0 AS price,
                 100 * (1 + (s.i * 31 + m.i * 17) % 997) AS volume
          FROM bench_symbols AS s CROSS JOIN bench_minutes AS m
          ORDER BY s.symbol, m.timestamp
        )`);
    })();
    sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
  } finally {
    sqlite.close();
  }
  return (Bun.nanoseconds() - started) / 1e9;
}

function msOf(samples: readonly Sample[]): number {
  return median(samples.map((sample) => sample.seconds * 1000));
}

function runCase(workDir: string, minutes: number, targetMs: number | null): CrossSectionCase {
  const symbols = marketSymbols();
  const rows = symbols.length * minutes;
  console.log(`\n18. cross-section of ${symbols.length.toLocaleString("en-US")} symbols on a ${rows.toLocaleString("en-US")}-bar store (${symbols.length.toLocaleString("en-US")} x ${minutes.toLocaleString("en-US")} minutes)`);
  const path = join(workDir, `cross-section-${rows}.db`);
  const buildSeconds = buildMarketStore(path, symbols, minutes);
  console.log(`  built in ${buildSeconds.toFixed(1)} s`);
  // Three quarters through the minutes: every seek lands inside its symbol's history.
  const at = sessionTimestamps(FIRST_DAY, minutes)[Math.floor(minutes * 0.75)]! + 30_000;
  const db = openDatabase({ path, readonly: true });
  const bare = new SqliteDatabase(path, { readonly: true });
  try {
    const lookup = bare.prepare("SELECT timestamp, open, high, low, close, volume, amount FROM market_data WHERE symbol = ? AND timestamp <= ? ORDER BY timestamp DESC LIMIT 1");
    const runNamed = () => timed(() => db.getCrossSection({ at, symbols }).rows.length);
    const runEvery = () => timed(() => db.getCrossSection({ at }).rows.length);
    const runBare = () =>
      timed(() => {
        let found = 0;
        for (const symbol of symbols) if (lookup.get(symbol, at)) found++;
        return found;
      });
    const named: Sample[] = [];
    const every: Sample[] = [];
    const loop: Sample[] = [];
    for (const warm of [runNamed(), runEvery(), runBare()]) {
      if (warm.rows !== symbols.length) throw new Error(`a cross-section found ${warm.rows} of ${symbols.length} symbols`);
    }
    for (let rep = 0; rep < REPS; rep++) {
      named.push(runNamed());
      every.push(runEvery());
      loop.push(runBare());
    }
    const result = { rows, symbols: symbols.length, buildSeconds, namedMs: msOf(named), everyMs: msOf(every), bareMs: msOf(loop), targetMs, pass: targetMs === null ? null : msOf(named) <= targetMs && msOf(every) <= targetMs };
    console.log(
      `  symbols named ${result.namedMs.toFixed(1)} ms, every symbol ${result.everyMs.toFixed(1)} ms, bare loop ${result.bareMs.toFixed(1)} ms ` +
        `(medians of ${REPS})${targetMs === null ? "" : `, target <= ${targetMs} ms ${result.pass ? "PASS" : "MISS"}`}`,
    );
    return result;
  } finally {
    bare.close();
    db.close();
    for (const suffix of ["", "-wal", "-shm"]) rmSync(path + suffix, { force: true });
  }
}

export async function runCrossSectionCases(context: { workDir: string; quick: boolean }): Promise<CrossSectionBenchResults> {
  const cases = [runCase(context.workDir, 200, context.quick ? TARGET_MS : null)];
  if (!context.quick) cases.push(runCase(context.workDir, 2_000, TARGET_MS));
  return { cases };
}

export function printCrossSectionSummary(results: CrossSectionBenchResults): string[] {
  const missed: string[] = [];
  console.log("\nas-of cross-section (5,000 symbols at one instant)");
  for (const c of results.cases) {
    const name = `cross-section-${c.rows / 1_000_000}M`;
    const verdict = c.pass === null ? "(no target at this size)" : `(<= ${c.targetMs} ms) ${c.pass ? "ok" : "MISSED"}`;
    console.log(`  ${name.padEnd(22)} named ${c.namedMs.toFixed(1).padStart(6)} ms  every ${c.everyMs.toFixed(1).padStart(6)} ms  bare ${c.bareMs.toFixed(1).padStart(6)} ms  ${verdict}`);
    if (c.pass === false) missed.push(`${name}: ${Math.max(c.namedMs, c.everyMs).toFixed(1)} ms > ${c.targetMs} ms`);
  }
  return missed;
}

if (import.meta.main) {
  const workDir = mkdtempSync(join(tmpdir(), "tradelite-bench-cross-section-"));
  try {
    printCrossSectionSummary(await runCrossSectionCases({ workDir, quick: process.argv.includes("--quick") }));
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
