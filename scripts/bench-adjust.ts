/**
 * The adjusted-read case of `bun run bench` (on its own: `bun scripts/bench-adjust.ts [--quick]`),
 * on a real file of synthetic minute bars on the shipped XSHG calendar's 2024 trading days (240
 * end-stamped minutes a day, Asia/Shanghai), each symbol with four ex-dates' factors stored:
 *
 * 19. One-day reads with `adjust: "qfq"` against the same reads unadjusted, in the same run:
 *     random (symbol, trading day) windows, rows/s = rows returned / time, samples alternating
 *     sides, medians; target >= 0.85 (issue 19). What the adjusted side pays on top: one read of
 *     the symbol's factor rows, the timeline and ratio schedule, and a multiply per price.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/mod.ts";
import { shippedCalendar } from "../src/domain/calendars/index.ts";
import { formatRate, median, timed, type Sample } from "./bench-support.ts";
import { mulberry32, randomWalk, SESSION_MINUTES } from "./synthetic-bars.ts";

export interface AdjustBenchResult {
  id: string;
  title: string;
  /** Rows a sample returns (each side the same). */
  rows: number;
  adjustedMs: number;
  rawMs: number;
  adjustedRowsPerSecond: number;
  rawRowsPerSecond: number;
  /** qfq rows/s over unadjusted rows/s. */
  ratio: number;
  minRatio: number;
  pass: boolean;
}

const REPS = 9;
const MINUTE = 60_000;
const SHANGHAI = 8 * 3_600_000;
const MIN_RATIO = 0.85;

export async function runAdjustCase(context: { workDir: string; quick: boolean }): Promise<AdjustBenchResult> {
  const symbols = context.quick ? 5 : 20;
  const windows = context.quick ? 100 : 400;
  const passes = 5;
  const days = shippedCalendar("XSHG")!.days.filter((day) => day.startsWith("2024-"));
  const midnights = days.map((day) => Date.parse(`${day}T00:00:00Z`) - SHANGHAI);
  const timestamps = new Float64Array(days.length * SESSION_MINUTES.length);
  let i = 0;
  for (const midnight of midnights) for (const minute of SESSION_MINUTES) timestamps[i++] = midnight + minute * MINUTE;

  const path = join(context.workDir, "adjust.db");
  const db = openDatabase({ path, timezone: "Asia/Shanghai", barTimestamp: "end" });
  try {
    const names = Array.from({ length: symbols }, (_, s) => `${600_000 + s}.SH`);
    names.forEach((symbol, s) => {
      db.insertBars(symbol, randomWalk(timestamps, 18 + s));
      // Four ex-dates a year, as a bank with quarterly dividends has: the factors' change points.
      db.adjustments.insert(symbol, [40, 100, 160, 220].map((day, k) => ({ date: days[day]!, factor: 1 + 0.03 * (k + 1), source: "bench" })));
    });
    const random = mulberry32(0x18adf);
    const picked = Array.from({ length: windows }, () => {
      const midnight = midnights[Math.floor(random() * midnights.length)]!;
      return { symbol: names[Math.floor(random() * names.length)]!, start: midnight, end: midnight + 86_400_000 - 1 };
    });
    const read = (adjust: "qfq" | undefined) => () =>
      timed(() => {
        let rows = 0;
        for (let pass = 0; pass < passes; pass++) {
          for (const window of picked) rows += db.getBars(window.symbol, adjust ? { start: window.start, end: window.end, adjust } : { start: window.start, end: window.end }).length;
        }
        return rows;
      });
    const title = `19. one-day reads with adjust: qfq vs unadjusted (${symbols} symbols x ${days.length} days, 4 factors each; ${windows} windows x ${passes} passes a sample)`;
    console.log(`\n${title}`);
    const adjusted: Sample[] = [];
    const raw: Sample[] = [];
    read("qfq")();
    read(undefined)();
    for (let rep = 0; rep < REPS; rep++) {
      if (rep % 2 === 0) {
        adjusted.push(read("qfq")());
        raw.push(read(undefined)());
      } else {
        raw.push(read(undefined)());
        adjusted.push(read("qfq")());
      }
    }
    const rate = (samples: readonly Sample[]) => median(samples.map((sample) => sample.rows / sample.seconds));
    const adjustedRowsPerSecond = rate(adjusted);
    const rawRowsPerSecond = rate(raw);
    const ratio = adjustedRowsPerSecond / rawRowsPerSecond;
    const ms = (samples: readonly Sample[]) => median(samples.map((sample) => sample.seconds * 1000));
    console.log(`  qfq ${formatRate(adjustedRowsPerSecond)} rows/s, unadjusted ${formatRate(rawRowsPerSecond)} rows/s (medians of ${REPS}): ratio ${ratio.toFixed(2)} (target >= ${MIN_RATIO})`);
    return {
      id: "adjust-qfq-one-day",
      title,
      rows: adjusted[0]!.rows,
      adjustedMs: ms(adjusted),
      rawMs: ms(raw),
      ratio,
      minRatio: MIN_RATIO,
      pass: ratio >= MIN_RATIO,
      adjustedRowsPerSecond,
      rawRowsPerSecond,
    };
  } finally {
    db.close();
  }
}

export function printAdjustSummary(result: AdjustBenchResult): string[] {
  console.log("\nadjusted reads");
  console.log(`  ${result.id.padEnd(22)} qfq ${result.adjustedMs.toFixed(1).padStart(7)} ms  unadjusted ${result.rawMs.toFixed(1).padStart(7)} ms  ratio ${result.ratio.toFixed(2)}  (>= ${result.minRatio}) ${result.pass ? "ok" : "MISSED"}`);
  return result.pass ? [] : [result.id];
}

if (import.meta.main) {
  const workDir = mkdtempSync(join(tmpdir(), "tradelite-bench-adjust-"));
  try {
    printAdjustSummary(await runAdjustCase({ workDir, quick: process.argv.includes("--quick") }));
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
