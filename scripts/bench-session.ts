/**
 * The market model's cases of `bun run bench` (on their own: `bun scripts/bench-session.ts
 * [--quick]`), on a real file of synthetic minute bars laid on the shipped XSHG calendar's 2024
 * trading days (242 days x 240 end-stamped minutes per symbol, Asia/Shanghai):
 *
 * 13. Session-aligned reads against clock-aligned ones of the same symbol-year, in the same run:
 *     a. `getBars(symbol, { interval: "1h", align: "session" })` (10:30, 11:30, 14:00, 15:00)
 *        against `{ interval: "1h" }` (the SQL plan on the clock); target >= 0.8 of its rows/s.
 *     b. the same for `1d`; target >= 0.8.
 *     Rows/s = minute bars aggregated / time; samples alternate sides; medians.
 * 14. `completeness(symbol)` over the symbol-year: median ms; target <= 50 ms here.
 * 15. Completeness of every symbol (`tradelite gaps --all`) on a store of 10,000,000 minute bars
 *     (1,000,000 with --quick): the figure, ms and rows/s; no target (it reads every timestamp
 *     stored, so it grows with the rows: the per-symbol summaries of the scale issue replace it
 *     for the overview).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, type Database } from "../src/mod.ts";
import { shippedCalendar } from "../src/domain/calendars/index.ts";
import { formatRate, median, timed, type Sample } from "./bench-support.ts";
import { randomWalk, sliceColumns, SESSION_MINUTES } from "./synthetic-bars.ts";

export interface RatioCase {
  id: string;
  title: string;
  rows: number;
  sessionMs: number;
  clockMs: number;
  /** Session rows/s over clock rows/s. */
  ratio: number;
  minRatio: number;
  pass: boolean;
}

export interface SessionBenchResults {
  reads: RatioCase[];
  completeness: { rows: number; medianMs: number; maxMs: number; pass: boolean };
  completenessAll: { symbols: number; rows: number; ms: number; rowsPerSecond: number };
}

const SYMBOL = "600000.SH";
const REPS = 9;
const MINUTE = 60_000;
const SHANGHAI = 8 * 3_600_000;

/** End-stamped minutes of the given XSHG trading days (the 240 of each day). */
function sessionMinutes(days: readonly string[]): Float64Array {
  const out = new Float64Array(days.length * SESSION_MINUTES.length);
  let i = 0;
  for (const day of days) {
    const midnight = Date.parse(`${day}T00:00:00Z`) - SHANGHAI;
    for (const minute of SESSION_MINUTES) out[i++] = midnight + minute * MINUTE;
  }
  return out;
}

function open(path: string): Database {
  return openDatabase({ path, timezone: "Asia/Shanghai", barTimestamp: "end" });
}

function msOf(samples: readonly Sample[]): number {
  return median(samples.map((sample) => sample.seconds * 1000));
}

function ratioCase(db: Database, id: string, title: string, interval: "1h" | "1d", rows: number): RatioCase {
  console.log(`\n${title}`);
  const session: Sample[] = [];
  const clock: Sample[] = [];
  const runSession = () => timed(() => (db.getBars(SYMBOL, { interval, align: "session" }).length, rows));
  const runClock = () => timed(() => (db.getBars(SYMBOL, { interval }).length, rows));
  runSession();
  runClock();
  for (let rep = 0; rep < REPS; rep++) {
    if (rep % 2 === 0) {
      session.push(runSession());
      clock.push(runClock());
    } else {
      clock.push(runClock());
      session.push(runSession());
    }
  }
  const sessionMs = msOf(session);
  const clockMs = msOf(clock);
  const ratio = clockMs / sessionMs;
  console.log(`  session ${sessionMs.toFixed(1)} ms, clock ${clockMs.toFixed(1)} ms (medians of ${REPS}): ratio ${ratio.toFixed(2)} (target >= 0.8)`);
  return { id, title, rows, sessionMs, clockMs, ratio, minRatio: 0.8, pass: ratio >= 0.8 };
}

export async function runSessionCases(context: { workDir: string; quick: boolean }): Promise<SessionBenchResults> {
  const days = shippedCalendar("XSHG")!.days.filter((day) => day.startsWith("2024-"));
  const yearTimestamps = sessionMinutes(days);
  const path = join(context.workDir, "session.db");
  const db = open(path);
  try {
    db.calendars.assign(SYMBOL, "XSHG");
    db.insertBars(SYMBOL, randomWalk(yearTimestamps, 13));
    const rows = yearTimestamps.length;
    const reads = [
      ratioCase(db, "session-1h", `13a. session-aligned 1h against clock-aligned 1h, one symbol-year (${rows.toLocaleString("en-US")} minute bars)`, "1h", rows),
      ratioCase(db, "session-1d", "13b. session-aligned 1d against clock-aligned 1d, the same symbol-year", "1d", rows),
    ];

    console.log("\n14. completeness(symbol) of the symbol-year");
    db.completeness(SYMBOL);
    const samples: Sample[] = [];
    for (let rep = 0; rep < REPS; rep++) samples.push(timed(() => db.completeness(SYMBOL).days.length));
    const medianMs = msOf(samples);
    const maxMs = Math.max(...samples.map((sample) => sample.seconds * 1000));
    console.log(`  median ${medianMs.toFixed(1)} ms, max ${maxMs.toFixed(1)} ms over ${REPS} runs (target <= 50 ms)`);
    const completeness = { rows, medianMs, maxMs, pass: medianMs <= 50 };

    const totalRows = context.quick ? 1_000_000 : 10_000_000;
    const symbols = Math.ceil(totalRows / rows);
    console.log(`\n15. completeness of every symbol (gaps --all), ${symbols} symbols, ${totalRows.toLocaleString("en-US")} minute bars`);
    const marketPath = join(context.workDir, "market.db");
    const market = open(marketPath);
    try {
      market.calendars.put({ ...shippedCalendar("XSHG")! });
      let left = totalRows;
      for (let s = 0; left > 0; s++) {
        const symbol = `${600_000 + s}.SH`;
        const count = Math.min(rows, left);
        market.insertBars(symbol, sliceColumns(randomWalk(yearTimestamps, 1_000 + s), 0, count));
        market.calendars.assign(symbol, "XSHG");
        left -= count;
      }
      const all = timed(() => {
        let counted = 0;
        for (const { symbol } of market.overview()) counted += market.completeness(symbol).days.reduce((n, day) => n + day.present, 0);
        return counted;
      });
      const ms = all.seconds * 1000;
      console.log(`  ${(ms / 1000).toFixed(2)} s, ${formatRate(all.rows / all.seconds)} bars/s (no target: it reads every stored timestamp)`);
      return { reads, completeness, completenessAll: { symbols, rows: all.rows, ms, rowsPerSecond: all.rows / all.seconds } };
    } finally {
      market.close();
    }
  } finally {
    db.close();
  }
}

export function printSessionSummary(results: SessionBenchResults): string[] {
  const missed: string[] = [];
  console.log("\nmarket model (session-aligned reads, completeness)");
  for (const read of results.reads) {
    console.log(`  ${read.id.padEnd(22)} session ${read.sessionMs.toFixed(1).padStart(7)} ms  clock ${read.clockMs.toFixed(1).padStart(7)} ms  ratio ${read.ratio.toFixed(2)}  (>= ${read.minRatio}) ${read.pass ? "ok" : "MISSED"}`);
    if (!read.pass) missed.push(read.id);
  }
  const c = results.completeness;
  console.log(`  ${"completeness-1y".padEnd(22)} ${c.medianMs.toFixed(1)} ms median (<= 50 ms) ${c.pass ? "ok" : "MISSED"}`);
  if (!c.pass) missed.push("completeness-1y");
  const all = results.completenessAll;
  console.log(`  ${"completeness-all".padEnd(22)} ${all.symbols} symbols, ${all.rows.toLocaleString("en-US")} bars: ${(all.ms / 1000).toFixed(2)} s`);
  return missed;
}

if (import.meta.main) {
  const workDir = mkdtempSync(join(tmpdir(), "tradelite-bench-session-"));
  try {
    printSessionSummary(await runSessionCases({ workDir, quick: process.argv.includes("--quick") }));
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
