/**
 * Case 24 of `bun run bench` (also `bun scripts/bench-derived.ts [--quick]` alone): one symbol's
 * ten years of minutes (~583,000 bars, written one trading day per insertBars as a recorder
 * would), read as `1d`, `1w` and `1M` over all of it from the derived days (src/domain/
 * derived-days.ts) against the same read resampling every minute on the fly (`derived: false`),
 * on the same file in the same run, the two sides taking turns. Also an adjusted (qfq) `1d` read,
 * and what building the days from the minutes costs (buildDerivedDays on the migrated file).
 * The target is the issue's: `1d` over ten years of one symbol <= 20 ms.
 */
import { Database as SqliteDatabase } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, type BarQuery } from "../src/mod.ts";
import { median } from "./bench-support.ts";
import { randomWalk, sessionTimestamps, sliceColumns, SESSION_MINUTES_PER_DAY } from "./synthetic-bars.ts";

export interface DerivedBenchResults {
  bars: number;
  days: number;
  writeSeconds: number;
  reads: { name: string; derivedMs: number; onTheFlyMs: number; speedup: number; same: boolean }[];
  buildMs: number;
}

/** `1d` over ten years of one symbol must take at most this (the target at every size). */
export const DERIVED_DAILY_TARGET_MS = 20;
const YEARS = 10;
const TRADING_DAYS_PER_YEAR = 243;
const SYMBOL = "600519.SH";

export function runDerivedCase(context: { workDir: string; quick: boolean }): DerivedBenchResults {
  const days = YEARS * TRADING_DAYS_PER_YEAR;
  const timestamps = sessionTimestamps("2016-01-04", days * SESSION_MINUTES_PER_DAY);
  const walk = randomWalk(timestamps, 22);
  const path = join(context.workDir, "derived.db");
  console.log(`\n24. 1d/1w/1M over ${YEARS} years of one symbol (${timestamps.length.toLocaleString("en-US")} minutes): derived days vs on the fly`);
  const db = openDatabase({ path, timezone: "Asia/Shanghai", barTimestamp: "end" });
  try {
    const started = Bun.nanoseconds();
    for (let d = 0; d < days; d++) db.insertBars(SYMBOL, sliceColumns(walk, d * SESSION_MINUTES_PER_DAY, (d + 1) * SESSION_MINUTES_PER_DAY));
    const writeSeconds = (Bun.nanoseconds() - started) / 1e9;
    db.adjustments.insert(SYMBOL, [
      { date: "2016-01-04", factor: 1 },
      { date: "2019-06-13", factor: 1.0213 },
      { date: "2023-06-26", factor: 1.0921 },
    ]);
    const samples = context.quick ? 5 : 11;
    const queries: [string, BarQuery][] = [
      ["1d", { interval: "1d" }],
      ["1w", { interval: "1w" }],
      ["1M", { interval: "1M" }],
      ["1d qfq", { interval: "1d", adjust: "qfq" }],
    ];
    const reads = queries.map(([name, query]) => {
      const derived: number[] = [];
      const onTheFly: number[] = [];
      let same = true;
      for (let i = 0; i < samples; i++) {
        const a = timedRead(() => db.getBars(SYMBOL, query));
        const b = timedRead(() => db.getBars(SYMBOL, { ...query, derived: false }));
        derived.push(a.ms);
        onTheFly.push(b.ms);
        same &&= Bun.deepEquals(a.bars, b.bars);
      }
      const result = { name, derivedMs: median(derived), onTheFlyMs: median(onTheFly), speedup: median(onTheFly) / median(derived), same };
      console.log(`  ${name.padEnd(6)} derived ${result.derivedMs.toFixed(2)} ms, on the fly ${result.onTheFlyMs.toFixed(1)} ms (median of ${samples}), x${result.speedup.toFixed(0)}, same bars: ${same}`);
      return result;
    });
    db.close();
    // What migrating a file costs per symbol: its days built from its minutes in one transaction.
    const raw = new SqliteDatabase(path);
    raw.run("DELETE FROM market_data_days_built");
    raw.close();
    const reopened = openDatabase({ path });
    const buildStarted = Bun.nanoseconds();
    reopened.buildDerivedDays();
    const buildMs = (Bun.nanoseconds() - buildStarted) / 1e6;
    reopened.close();
    console.log(`  written in ${writeSeconds.toFixed(1)} s (one day per insertBars); building the days from the minutes: ${buildMs.toFixed(0)} ms (${((timestamps.length / buildMs) * 1000).toFixed(0)} minutes/s)`);
    return { bars: timestamps.length, days, writeSeconds, reads, buildMs };
  } finally {
    try {
      db.close();
    } catch {
      // closed above
    }
  }
}

function timedRead<T>(read: () => T): { ms: number; bars: T } {
  const started = Bun.nanoseconds();
  const bars = read();
  return { ms: (Bun.nanoseconds() - started) / 1e6, bars };
}

/** The lines of the closing summary, and the targets missed. */
export function printDerivedCase(results: DerivedBenchResults): string[] {
  const daily = results.reads.find((read) => read.name === "1d")!;
  console.log(`\nDerived days (24): 1d over ${YEARS} years ${daily.derivedMs.toFixed(2)} ms (target <= ${DERIVED_DAILY_TARGET_MS} ms), on the fly ${daily.onTheFlyMs.toFixed(1)} ms`);
  const missed: string[] = [];
  if (daily.derivedMs > DERIVED_DAILY_TARGET_MS) missed.push(`24 1d over ${YEARS} years ${daily.derivedMs.toFixed(1)} ms > ${DERIVED_DAILY_TARGET_MS} ms`);
  for (const read of results.reads) if (!read.same) missed.push(`22 ${read.name}: derived bars differ from on-the-fly`);
  return missed;
}

if (import.meta.main) {
  const workDir = mkdtempSync(join(tmpdir(), "tradelite-bench-derived-"));
  try {
    printDerivedCase(runDerivedCase({ workDir, quick: process.argv.includes("--quick") }));
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
