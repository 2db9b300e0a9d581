/**
 * The columnar cases of `bun run bench` (on their own: `bun scripts/bench-columnar.ts [--quick]`):
 * `tradelite export` and `tradelite import` of one symbol's 1,000,000 synthetic minute bars
 * (100,000 with --quick) as Parquet against the same as CSV, each run as users run it (the CLI in
 * its own process, --out to a file, import into a fresh database), timed by the CLI's own --json
 * summary; rounds alternate the formats and the figures are medians of three.
 *
 * 16. Parquet export: rows/s >= the CSV export's, and bytes <= 1/3 of the CSV file's.
 * 17. Parquet import: rows/s >= 2x the CSV import's.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/mod.ts";
import { formatRate, median } from "./bench-support.ts";
import { randomWalk, sessionTimestamps, sliceColumns } from "./synthetic-bars.ts";

const SYMBOL = "600519.SH";
const ROUNDS = 3;
const FORMATS = ["csv", "parquet"] as const;
type Format = (typeof FORMATS)[number];

export interface ColumnarBenchResults {
  rows: number;
  export: Record<Format, { medianSeconds: number; rowsPerSecond: number; bytes: number }>;
  import: Record<Format, { medianSeconds: number; rowsPerSecond: number }>;
  exportRatio: number;
  bytesRatio: number;
  importRatio: number;
  pass: { export: boolean; bytes: boolean; import: boolean };
  /** False with --quick: at 100,000 rows both sides are mostly process start and JIT warm-up, so the targets (set for 1M) are not judged. */
  judged: boolean;
}

/** Runs the CLI with --json and answers the seconds its summary reports. */
async function cliSeconds(args: string[], database: string): Promise<number> {
  const child = Bun.spawn(["bun", join(import.meta.dir, "tradelite.ts"), ...args, "--json"], {
    env: { ...process.env, TRADELITE_DB: database }, stdout: "pipe", stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`tradelite ${args.join(" ")} exited ${code}: ${stderr.trim().split("\n").pop()}`);
  const summary = JSON.parse(stdout.trim().split("\n").pop()!) as { seconds: number };
  return summary.seconds;
}

export async function runColumnarCases(options: { workDir?: string; quick: boolean }): Promise<ColumnarBenchResults> {
  const rows = options.quick ? 100_000 : 1_000_000;
  const workDir = mkdtempSync(join(options.workDir ?? tmpdir(), "tradelite-bench-columnar-"));
  try {
    console.log(`\n16-17. columnar export and import: ${rows.toLocaleString("en-US")} bars of one symbol, Parquet against CSV, medians of ${ROUNDS}`);
    const source = join(workDir, "source.db");
    const db = openDatabase({ path: source });
    const bars = randomWalk(sessionTimestamps("2020-01-02", rows), 18);
    for (let from = 0; from < rows; from += 100_000) db.insertBars(SYMBOL, sliceColumns(bars, from, Math.min(rows, from + 100_000)));
    db.close();

    const exportSeconds: Record<Format, number[]> = { csv: [], parquet: [] };
    const importSeconds: Record<Format, number[]> = { csv: [], parquet: [] };
    const bytes: Record<Format, number> = { csv: 0, parquet: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which goes first, so a slow moment of this shared machine falls on both.
      const order = round % 2 === 0 ? FORMATS : [...FORMATS].reverse();
      for (const format of order) {
        const file = join(workDir, `${SYMBOL}.${format}`);
        rmSync(file, { force: true });
        exportSeconds[format].push(await cliSeconds(["export", SYMBOL, "--format", format, "--out", file], source));
        bytes[format] = statSync(file).size;
      }
      for (const format of order) {
        const target = join(workDir, `import-${format}-${round}.db`);
        importSeconds[format].push(await cliSeconds(["import", join(workDir, `${SYMBOL}.${format}`)], target));
        for (const suffix of ["", "-wal", "-shm"]) rmSync(`${target}${suffix}`, { force: true });
      }
    }
    const figure = (seconds: number[]) => ({ medianSeconds: median(seconds), rowsPerSecond: rows / median(seconds) });
    const exported = { csv: { ...figure(exportSeconds.csv), bytes: bytes.csv }, parquet: { ...figure(exportSeconds.parquet), bytes: bytes.parquet } };
    const imported = { csv: figure(importSeconds.csv), parquet: figure(importSeconds.parquet) };
    const exportRatio = exported.parquet.rowsPerSecond / exported.csv.rowsPerSecond;
    const bytesRatio = bytes.parquet / bytes.csv;
    const importRatio = imported.parquet.rowsPerSecond / imported.csv.rowsPerSecond;
    for (const format of FORMATS) {
      console.log(
        `  ${format.padEnd(7)} export ${formatRate(exported[format].rowsPerSecond)} rows/s (${exported[format].medianSeconds.toFixed(2)} s, ` +
          `${(bytes[format] / 1e6).toFixed(1)} MB), import ${formatRate(imported[format].rowsPerSecond)} rows/s (${imported[format].medianSeconds.toFixed(2)} s)`,
      );
    }
    return {
      rows, export: exported, import: imported, exportRatio, bytesRatio, importRatio,
      pass: { export: exportRatio >= 1, bytes: bytesRatio <= 1 / 3, import: importRatio >= 2 },
      judged: !options.quick,
    };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** Prints the targets' lines; answers the ones missed. */
export function printColumnarSummary(results: ColumnarBenchResults): string[] {
  const lines: [string, boolean][] = [
    [`16a. Parquet export ${results.exportRatio.toFixed(2)}x the CSV export's rows/s (target >= 1.0x)`, results.pass.export],
    [`16b. Parquet export ${(results.bytesRatio * 100).toFixed(1)}% of the CSV file's bytes (target <= 33.3%)`, results.pass.bytes],
    [`17.  Parquet import ${results.importRatio.toFixed(2)}x the CSV import's rows/s (target >= 2.0x)`, results.pass.import],
  ];
  const missed: string[] = [];
  if (!results.judged) console.log("  (--quick: the columnar targets are judged on 1,000,000 rows, in the full run)");
  for (const [line, pass] of lines) {
    console.log(`  ${!results.judged ? "n/a " : pass ? "ok  " : "MISS"} ${line}`);
    if (results.judged && !pass) missed.push(line);
  }
  return missed;
}

if (import.meta.main) {
  const results = await runColumnarCases({ quick: process.argv.includes("--quick") });
  printColumnarSummary(results);
}
