/**
 * `bun run bench [--quick]`: tradelite's bar path against the code a user would write without
 * it (a prepared single-row upsert per bar, bare `.all()` reads) on files with the same schema
 * and pragmas, the session cache against its floors (scripts/bench-cache.ts), and the worker
 * backend against the in-thread one (scripts/bench-worker.ts). Prints the
 * median of each side, their ratio and the targets, and writes the results as JSON under
 * bench-results/. A benchmark, not a test: it exits 0 even when a target is missed, and says
 * which.
 *
 * `--quick` writes 10x fewer rows, for smoke runs. `--memory-case <path> <symbol>` is the child
 * process the memory case runs in (see measureIterationMemory).
 */
import { Database as SqliteDatabase } from "bun:sqlite";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { openDatabase, validateBars, type Bar } from "../src/mod.ts";
import { runCacheCases, printCacheSummary, type CacheBenchResults } from "./bench-cache.ts";
import { printWorkerSummary, runWorkerCases, type WorkerBenchResults } from "./bench-worker.ts";
import { printSessionSummary, runSessionCases, type SessionBenchResults } from "./bench-session.ts";
import { printColumnarSummary, runColumnarCases, type ColumnarBenchResults } from "./bench-columnar.ts";
import { printCrossSectionSummary, runCrossSectionCases, type CrossSectionBenchResults } from "./bench-cross-section.ts";
import { printAdjustSummary, runAdjustCase, type AdjustBenchResult } from "./bench-adjust.ts";
import { printSummaryCases, runSummaryCases, type SummaryBenchResults } from "./bench-summary.ts";
import { printWatchSummary, runWatchCases, type WatchBenchResults } from "./bench-watch.ts";
import { printDerivedCase, runDerivedCase, type DerivedBenchResults } from "./bench-derived.ts";
import { printLiveSummary, runLiveCase, type LiveBenchResults } from "./bench-live.ts";
import { printAuditSummary, runAuditCases, type AuditBenchResults } from "./bench-audit.ts";
import { BARE_UPSERT_SQL, formatRate, median, openBare, removeDatabaseFile, timed, type Sample } from "./bench-support.ts";
import {
  barObjects,
  mulberry32,
  randomWalk,
  sessionTimestamps,
  sliceColumns,
  SESSION_MINUTES_PER_DAY,
  SHANGHAI_OFFSET_MS,
  tradingDays,
  type MinuteBarColumns,
  type SyntheticBar,
} from "./synthetic-bars.ts";

// ---------------------------------------------------------------------------------------------
// Scale

interface Scale {
  symbols: number;
  barsPerSymbol: number;
  /** Rows of each symbol's upsert batch that hit existing timestamps (the rest are new). */
  overlapRows: number;
  windows: number;
  /**
   * Passes over the windows in one timed sample: one pass takes ~80 ms here, short enough for a
   * scheduler hiccup on this shared machine to move the ratio by several percent.
   */
  windowPasses: number;
  /** Rows of the one long-history symbol the memory case iterates. */
  memoryRows: number;
  resampleDays: number;
  insertReps: number;
  readReps: number;
}

const FULL: Scale = {
  symbols: 100,
  barsPerSymbol: 10_000,
  overlapRows: 1_000,
  windows: 1_000,
  windowPasses: 5,
  memoryRows: 1_000_000,
  resampleDays: 250,
  insertReps: 5,
  readReps: 7,
};

/** 10x fewer rows written; read windows and the resampled year stay, they are cheap. */
const QUICK: Scale = { ...FULL, symbols: 10, memoryRows: 100_000 };

const FIRST_DAY = "2024-01-02";
const SEED = 20_240_102;
const MEMORY_LIMIT_MB = 100;
const RESAMPLE_SYMBOL = "000001.SZ";
const LONG_HISTORY_SYMBOL = "510300.SH";

const MARKET_DATA_COLUMNS = "timestamp, open, high, low, close, volume, amount";

const BARE_RANGE_SQL = `SELECT ${MARKET_DATA_COLUMNS} FROM market_data
WHERE symbol=? AND timestamp BETWEEN ? AND ? ORDER BY timestamp`;

const BARE_SYMBOL_SQL = `SELECT ${MARKET_DATA_COLUMNS} FROM market_data WHERE symbol=? ORDER BY timestamp`;

/**
 * Daily bars on the Shanghai clock with a fixed +8h: first/last minute and the aggregates per
 * day, open and close fetched by primary key. Timestamps are stored as INTEGER, so `/` floors.
 */
const BARE_DAILY_SQL = `
WITH days AS (
  SELECT (timestamp + ${SHANGHAI_OFFSET_MS}) / 86400000 AS day,
         min(timestamp) AS first, max(timestamp) AS last,
         max(high) AS high, min(low) AS low, sum(volume) AS volume, sum(amount) AS amount
  FROM market_data WHERE symbol = ?1
  GROUP BY day
)
SELECT d.day * 86400000 - ${SHANGHAI_OFFSET_MS} AS timestamp,
       f.open AS open, d.high AS high, d.low AS low, l.close AS close, d.volume AS volume, d.amount AS amount
FROM days AS d
JOIN market_data AS f ON f.symbol = ?1 AND f.timestamp = d.first
JOIN market_data AS l ON l.symbol = ?1 AND l.timestamp = d.last
ORDER BY d.day`;

// ---------------------------------------------------------------------------------------------
// Measuring

interface SideResult {
  samples: { rows: number; seconds: number; rowsPerSecond: number }[];
  medianRowsPerSecond: number;
}

interface Target {
  /** The lowest acceptable tradelite/bare ratio. */
  minRatio: number;
}

interface CaseResult {
  id: string;
  title: string;
  definition: string;
  tradelite: SideResult;
  bare: SideResult;
  ratio: number;
  target: Target | null;
  pass: boolean | null;
  checks: Record<string, unknown>;
}

interface CaseSpec {
  id: string;
  title: string;
  definition: string;
  reps: number;
  target?: Target;
  /** Run each side once untimed first (reads: JIT and page cache); inserts start cold on purpose. */
  warmup?: boolean;
  tradelite: (rep: number) => Sample;
  bare: (rep: number) => Sample;
}

function summarise(samples: readonly Sample[]): SideResult {
  const rated = samples.map((sample) => ({ ...sample, rowsPerSecond: sample.rows / sample.seconds }));
  return { samples: rated, medianRowsPerSecond: median(rated.map((sample) => sample.rowsPerSecond)) };
}

/**
 * Runs both sides `reps` times, alternating which goes first so that neither always gets the
 * quieter moment (or the warmer cache) on a shared machine, and compares the medians.
 */
function compare(spec: CaseSpec): CaseResult {
  console.log(`\n${spec.title}\n  (${spec.definition})`);
  if (spec.warmup) {
    spec.tradelite(-1);
    spec.bare(-1);
  }
  const tradelite: Sample[] = [];
  const bare: Sample[] = [];
  for (let rep = 0; rep < spec.reps; rep++) {
    if (rep % 2 === 0) {
      tradelite.push(spec.tradelite(rep));
      bare.push(spec.bare(rep));
    } else {
      bare.push(spec.bare(rep));
      tradelite.push(spec.tradelite(rep));
    }
    const ours = tradelite[rep]!, theirs = bare[rep]!;
    console.log(
      `  rep ${rep + 1}/${spec.reps}: tradelite ${formatRate(ours.rows / ours.seconds)} rows/s, ` +
        `bare ${formatRate(theirs.rows / theirs.seconds)} rows/s`,
    );
  }
  const ours = summarise(tradelite);
  const theirs = summarise(bare);
  const ratio = ours.medianRowsPerSecond / theirs.medianRowsPerSecond;
  const target = spec.target ?? null;
  return {
    id: spec.id,
    title: spec.title,
    definition: spec.definition,
    tradelite: ours,
    bare: theirs,
    ratio,
    target,
    pass: target ? ratio >= target.minRatio : null,
    checks: {},
  };
}

// ---------------------------------------------------------------------------------------------
// The market

interface Market {
  symbols: string[];
  columns: MinuteBarColumns[];
  objects: SyntheticBar[][];
  /** Per symbol: the last `overlapRows` stored timestamps with new prices, then new minutes. */
  upserts: MinuteBarColumns[];
  /** Local midnights of the days the stored bars cover. */
  days: number[];
}

/** Shanghai main-board codes 600000.SH, 600001.SH, ... */
function symbolAt(index: number): string {
  return `${600_000 + index}.SH`;
}

function generateMarket(scale: Scale): Market {
  const { symbols: count, barsPerSymbol, overlapRows } = scale;
  const stored = sessionTimestamps(FIRST_DAY, barsPerSymbol);
  const extended = sessionTimestamps(FIRST_DAY, 2 * barsPerSymbol - overlapRows);
  const upsertTimestamps = extended.slice(barsPerSymbol - overlapRows);
  const symbols: string[] = [];
  const columns: MinuteBarColumns[] = [];
  const objects: SyntheticBar[][] = [];
  const upserts: MinuteBarColumns[] = [];
  for (let s = 0; s < count; s++) {
    symbols.push(symbolAt(s));
    const bars = randomWalk(stored, SEED + s);
    columns.push(bars);
    objects.push(barObjects(bars));
    // A different seed, so the overlapping rows really change the stored values.
    upserts.push(randomWalk(upsertTimestamps, SEED + 1_000_000 + s));
  }
  return { symbols, columns, objects, upserts, days: tradingDays(FIRST_DAY, Math.ceil(barsPerSymbol / SESSION_MINUTES_PER_DAY)) };
}

// ---------------------------------------------------------------------------------------------
// The benchmark

async function runBenchmark(quick: boolean): Promise<void> {
  const scale = quick ? QUICK : FULL;
  const startedAt = new Date();
  const workDir = mkdtempSync(join(tmpdir(), "tradelite-bench-"));
  const removeWorkDir = () => rmSync(workDir, { recursive: true, force: true });
  process.on("SIGINT", () => {
    removeWorkDir();
    process.exit(130);
  });

  let fileCount = 0;
  /** A new file that tradelite has migrated and configured (WAL, auto_vacuum), then closed. */
  function newDatabaseFile(label: string): string {
    const path = join(workDir, `${++fileCount}-${label}.db`);
    openDatabase({ path }).close();
    return path;
  }

  const totalRows = scale.symbols * scale.barsPerSymbol;
  console.log(
    `tradelite bench${quick ? " (--quick)" : ""}: ${scale.symbols} symbols x ${scale.barsPerSymbol.toLocaleString("en-US")} ` +
      `one-minute bars = ${totalRows.toLocaleString("en-US")} rows; files under ${workDir}`,
  );
  const scratch = new SqliteDatabase(":memory:");
  const sqliteVersion = (scratch.query("SELECT sqlite_version() AS v").get() as { v: string }).v;
  scratch.close();
  console.log(`Bun ${Bun.version}, SQLite ${sqliteVersion}, ${cpus().length} x ${cpus()[0]?.model ?? "unknown CPU"}`);

  const generationStart = Bun.nanoseconds();
  const market = generateMarket(scale);
  console.log(`generated the market in ${((Bun.nanoseconds() - generationStart) / 1e9).toFixed(1)} s`);

  const cases: CaseResult[] = [];
  let cache: CacheBenchResults | null = null;
  let worker: WorkerBenchResults | { error: string } | null = null;
  let session: SessionBenchResults | { error: string } | null = null;
  let columnar: ColumnarBenchResults | { error: string } | null = null;
  let crossSection: CrossSectionBenchResults | { error: string } | null = null;
  let adjust: AdjustBenchResult | { error: string } | null = null;
  let summary: SummaryBenchResults | { error: string } | null = null;
  let watch: WatchBenchResults | { error: string } | null = null;
  let derived: DerivedBenchResults | { error: string } | null = null;
  let live: LiveBenchResults | { error: string } | null = null;
  let audit: AuditBenchResults | { error: string } | null = null;
  const breakdown: Record<string, number> = {};
  let memory: MemoryResult | { error: string };

  try {
    // -- 1, 2: inserts into empty files ---------------------------------------------------------
    const insertCase = (shape: "objects" | "columns"): CaseResult =>
      compare({
        id: `insert-${shape}`,
        title: `${shape === "objects" ? 1 : 2}. insertBars ${shape === "objects" ? "with objects" : "columnar (Float64Array)"}`,
        definition:
          `${scale.symbols} insertBars calls of ${scale.barsPerSymbol} ${shape === "objects" ? "BarInput objects" : "Float64Array columns"} ` +
          "into a fresh file; bare: one prepared single-row upsert run() per bar, one BEGIN IMMEDIATE transaction per symbol",
        reps: scale.insertReps,
        target: { minRatio: shape === "objects" ? 1.0 : 1.1 },
        tradelite: () => {
          const path = newDatabaseFile(`${shape}-tradelite`);
          const db = openDatabase({ path });
          try {
            return timed(() => {
              let rows = 0;
              for (let s = 0; s < scale.symbols; s++) {
                rows += db.insertBars(market.symbols[s]!, shape === "objects" ? market.objects[s]! : market.columns[s]!);
              }
              return rows;
            });
          } finally {
            db.close();
            removeDatabaseFile(path);
          }
        },
        bare: () => {
          const path = newDatabaseFile(`${shape}-bare`);
          const sqlite = openBare(path, { withoutTriggers: true });
          try {
            return timed(() => bareInsert(sqlite, market.symbols, shape === "objects" ? market.objects : market.columns));
          } finally {
            sqlite.close();
            removeDatabaseFile(path);
          }
        },
      });
    cases.push(insertCase("objects"));
    cases.push(insertCase("columns"));

    // What validation alone costs, to read the insert ratios against.
    for (const shape of ["objects", "columns"] as const) {
      const sample = timed(() => {
        let rows = 0;
        for (let s = 0; s < scale.symbols; s++) {
          rows += validateBars(shape === "objects" ? market.objects[s]! : market.columns[s]!, "UTC").length;
        }
        return rows;
      });
      breakdown[`validateBars ${shape} rows/s`] = sample.rows / sample.seconds;
    }

    // The file every later case starts from: all symbols, written once by tradelite and closed,
    // so the WAL is checkpointed into the main file and a plain copy is a complete database.
    const seedPath = newDatabaseFile("seed");
    {
      const db = openDatabase({ path: seedPath });
      for (let s = 0; s < scale.symbols; s++) db.insertBars(market.symbols[s]!, market.columns[s]!);
      db.close();
    }

    // -- 20, 21: the per-symbol summary (overview() and its cost on insertBars) ------------------
    try {
      summary = runSummaryCases({ workDir, quick, seedPath, symbols: market.symbols, rows: totalRows });
    } catch (error) {
      summary = { error: error instanceof Error ? error.message : String(error) };
      console.log(`  failed: ${summary.error}`);
    }

    // -- 24: 1d, 1w and 1M over ten years of one symbol, derived days vs on the fly -------------
    try {
      derived = runDerivedCase({ workDir, quick });
    } catch (error) {
      derived = { error: error instanceof Error ? error.message : String(error) };
      console.log(`  failed: ${derived.error}`);
    }

    // -- 26: the audit log on the live path (rollups) and 240-row inserts -------------------------
    try {
      audit = await runAuditCases(workDir, quick);
    } catch (error) {
      audit = { error: error instanceof Error ? error.message : String(error) };
      console.log(`  failed: ${audit.error}`);
    }

    // -- 3: upsert with overlap ----------------------------------------------------------------
    const newRows = scale.barsPerSymbol - scale.overlapRows;
    cases.push(
      compare({
        id: "upsert-overlap",
        title: `3. upsert, ${Math.round((100 * scale.overlapRows) / scale.barsPerSymbol)}% overlapping (columnar)`,
        definition:
          `a copy of the ${totalRows}-row file; per symbol one batch of ${scale.barsPerSymbol} rows (Float64Array columns): ` +
          `the last ${scale.overlapRows} stored timestamps with new values (updates), then ${newRows} new minutes (inserts)`,
        reps: scale.insertReps,
        tradelite: () => {
          const path = join(workDir, `${++fileCount}-upsert-tradelite.db`);
          copyFileSync(seedPath, path);
          const db = openDatabase({ path });
          try {
            return timed(() => {
              let rows = 0;
              for (let s = 0; s < scale.symbols; s++) rows += db.insertBars(market.symbols[s]!, market.upserts[s]!);
              return rows;
            });
          } finally {
            db.close();
            removeDatabaseFile(path);
          }
        },
        bare: () => {
          const path = join(workDir, `${++fileCount}-upsert-bare.db`);
          copyFileSync(seedPath, path);
          const sqlite = openBare(path, { withoutTriggers: true });
          try {
            return timed(() => bareInsert(sqlite, market.symbols, market.upserts));
          } finally {
            sqlite.close();
            removeDatabaseFile(path);
          }
        },
      }),
    );

    // -- 4, 5: reads of the seed file, both sides on the same file ------------------------------
    const reader = openDatabase({ path: seedPath });
    const bareReader = openBare(seedPath);
    try {
      // Its own PRNG stream, so the windows do not depend on how many bars were drawn.
      const random = mulberry32(SEED ^ 0x5bd1e995);
      const windows = Array.from({ length: scale.windows }, () => {
        const symbol = market.symbols[Math.floor(random() * market.symbols.length)]!;
        const midnight = market.days[Math.floor(random() * market.days.length)]!;
        return { symbol, start: midnight, end: midnight + 86_400_000 - 1 };
      });
      const rangeStatement = bareReader.prepare(BARE_RANGE_SQL);
      const windowRows: { tradelite: number; bare: number } = { tradelite: 0, bare: 0 };
      const windowCase = compare({
        id: "range-one-day",
        title: "4. getBars, one-day windows",
        definition:
          `${scale.windows} windows x ${scale.windowPasses} passes per sample (random symbol, random trading day, [local midnight, next midnight - 1 ms]); ` +
          "rows/s = rows returned / time; bare: prepared SELECT ... BETWEEN ? AND ? ORDER BY timestamp, .all()",
        reps: scale.readReps,
        warmup: true,
        target: { minRatio: 0.9 },
        tradelite: () =>
          timed(() => {
            let rows = 0;
            for (let pass = 0; pass < scale.windowPasses; pass++) {
              for (const window of windows) rows += reader.getBars(window.symbol, { start: window.start, end: window.end }).length;
            }
            windowRows.tradelite = rows;
            return rows;
          }),
        bare: () =>
          timed(() => {
            let rows = 0;
            for (let pass = 0; pass < scale.windowPasses; pass++) {
              for (const window of windows) rows += rangeStatement.all(window.symbol, window.start, window.end).length;
            }
            windowRows.bare = rows;
            return rows;
          }),
      });
      windowCase.checks = { rowsPerPass: windowRows, sameRows: windowRows.tradelite === windowRows.bare };
      cases.push(windowCase);

      const symbolStatement = bareReader.prepare(BARE_SYMBOL_SQL);
      cases.push(
        compare({
          id: "scan-full-symbol",
          title: "5. getBars, full-symbol scans",
          definition: `getBars(symbol) for each of the ${scale.symbols} symbols; bare: prepared SELECT ... WHERE symbol=? ORDER BY timestamp, .all()`,
          reps: scale.readReps,
          warmup: true,
          tradelite: () =>
            timed(() => {
              let rows = 0;
              for (const symbol of market.symbols) rows += reader.getBars(symbol).length;
              return rows;
            }),
          bare: () =>
            timed(() => {
              let rows = 0;
              for (const symbol of market.symbols) rows += symbolStatement.all(symbol).length;
              return rows;
            }),
        }),
      );
    } finally {
      reader.close();
    }

    // -- 6: resample a year of minutes to days ---------------------------------------------------
    try {
      // The seed file was created in UTC and stores that zone; the earlier cases are done with
      // it, so its stored zone is changed (one audited setting) rather than contradicted.
      const shanghai = openDatabase({ path: seedPath });
      shanghai.updateSettings({ timezone: "Asia/Shanghai" });
      try {
        const yearBars = scale.resampleDays * SESSION_MINUTES_PER_DAY;
        shanghai.insertBars(RESAMPLE_SYMBOL, randomWalk(sessionTimestamps(FIRST_DAY, yearBars), SEED - 1));
        const dailyStatement = bareReader.prepare(BARE_DAILY_SQL);
        let ours: Bar[] = [];
        let theirs: Bar[] = [];
        const resampleCase = compare({
          id: "resample-1d",
          title: "6. resample 1m -> 1d over a year",
          definition:
            `getBars("${RESAMPLE_SYMBOL}", { interval: "1d" }) over ${yearBars} minute bars (${scale.resampleDays} days), ` +
            "database timezone Asia/Shanghai; rows/s = minute bars aggregated / time; bare: GROUP BY day with a fixed +8h",
          reps: scale.readReps,
          warmup: true,
          tradelite: () =>
            timed(() => {
              ours = shanghai.getBars(RESAMPLE_SYMBOL, { interval: "1d" });
              return yearBars;
            }),
          bare: () =>
            timed(() => {
              theirs = dailyStatement.all(RESAMPLE_SYMBOL) as Bar[];
              return yearBars;
            }),
        });
        resampleCase.checks = {
          days: { tradelite: ours.length, bare: theirs.length, expected: scale.resampleDays },
          sameDays: ours.length === theirs.length,
          mismatchedDays: dailyMismatches(ours, theirs),
        };
        cases.push(resampleCase);
      } finally {
        shanghai.close();
      }
    } finally {
      bareReader.close();
    }

    // -- memory: iterateBars over one long symbol, in a child process ---------------------------
    console.log(`\n7. iterateBars memory, ${scale.memoryRows.toLocaleString("en-US")} rows of one symbol (child process)`);
    const longPath = newDatabaseFile("long-history");
    {
      const db = openDatabase({ path: longPath });
      const timestamps = sessionTimestamps(FIRST_DAY, scale.memoryRows);
      const bars = randomWalk(timestamps, SEED - 2);
      const chunk = 100_000;
      for (let from = 0; from < scale.memoryRows; from += chunk) {
        const to = Math.min(scale.memoryRows, from + chunk);
        db.insertBars(LONG_HISTORY_SYMBOL, sliceColumns(bars, from, to));
      }
      db.close();
    }
    memory = await spawnMemoryCase(longPath);
    if ("error" in memory) console.log(`  failed: ${memory.error}`);
    else console.log(`  iterated ${memory.rows.toLocaleString("en-US")} rows at ${formatRate(memory.rowsPerSecond)} rows/s, peak RSS +${memory.deltaMb.toFixed(1)} MB`);

    // -- 8, 9, 10: the session cache ------------------------------------------------------------
    cache = await runCacheCases({ workDir, quick, firstDay: FIRST_DAY, seed: SEED, newDatabaseFile });

    // -- 11, 12: the worker backend against the in-thread one -----------------------------------
    try {
      worker = await runWorkerCases({ workDir, quick, firstDay: FIRST_DAY, seed: SEED, newDatabaseFile });
    } catch (error) {
      worker = { error: error instanceof Error ? error.message : String(error) };
      console.log(`  failed: ${worker.error}`);
    }

    // -- 13, 14, 15: the market model (session-aligned reads, completeness) ----------------------
    try {
      session = await runSessionCases({ workDir, quick });
    } catch (error) {
      session = { error: error instanceof Error ? error.message : String(error) };
      console.log(`  failed: ${session.error}`);
    }

    // -- 16, 17: Parquet export and import against CSV ---------------------------------------------
    try {
      columnar = await runColumnarCases({ workDir, quick });
    } catch (error) {
      columnar = { error: error instanceof Error ? error.message : String(error) };
      console.log(`  failed: ${columnar.error}`);
    }

    // -- 18: the as-of cross-section of 5,000 symbols on 1M- and 10M-bar stores ------------------
    try {
      crossSection = await runCrossSectionCases({ workDir, quick });
    } catch (error) {
      crossSection = { error: error instanceof Error ? error.message : String(error) };
      console.log(`  failed: ${crossSection.error}`);
    }

    // -- 19: adjusted reads against unadjusted ones ------------------------------------------------
    try {
      adjust = await runAdjustCase({ workDir, quick });
    } catch (error) {
      adjust = { error: error instanceof Error ? error.message : String(error) };
      console.log(`  failed: ${adjust.error}`);
    }

    // -- 22, 23: watch latency from another process, the change log on the hot path ---------------
    try {
      watch = await runWatchCases({ workDir, quick });
    } catch (error) {
      watch = { error: error instanceof Error ? error.message : String(error) };
      console.log(`  failed: ${watch.error}`);
    }

    // -- 25: 1,000 SSE watchers against a recorder writing into the served file -------------------
    try {
      live = await runLiveCase({ workDir, quick });
    } catch (error) {
      live = { error: error instanceof Error ? error.message : String(error) };
      console.log(`  failed: ${live.error}`);
    }
  } finally {
    removeWorkDir();
  }

  const missed = printSummary(cases, cache, memory, breakdown, scale, worker);
  if (session && !("error" in session)) missed.push(...printSessionSummary(session));
  if (columnar && !("error" in columnar)) missed.push(...printColumnarSummary(columnar));
  if (crossSection && !("error" in crossSection)) missed.push(...printCrossSectionSummary(crossSection));
  if (adjust && !("error" in adjust)) missed.push(...printAdjustSummary(adjust));
  if (summary && !("error" in summary)) missed.push(...printSummaryCases(summary));
  if (watch && !("error" in watch)) missed.push(...printWatchSummary(watch));
  if (derived && !("error" in derived)) missed.push(...printDerivedCase(derived));
  if (live && !("error" in live)) missed.push(...printLiveSummary(live));
  if (audit && !("error" in audit)) missed.push(...printAuditSummary(audit));

  const resultsDir = join(import.meta.dir, "..", "bench-results");
  mkdirSync(resultsDir, { recursive: true });
  const resultsPath = join(resultsDir, `bench-${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
  const results = {
    startedAt: startedAt.toISOString(),
    quick,
    scale,
    environment: {
      bun: Bun.version,
      sqlite: sqliteVersion,
      platform: `${process.platform}-${process.arch}`,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? null,
    },
    cases,
    cache,
    memory,
    breakdown,
    worker,
    session,
    columnar,
    crossSection,
    adjust,
    summary,
    watch,
    derived,
    live,
    audit,
    missedTargets: missed,
  };
  writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nresults: ${relative(process.cwd(), resultsPath) || resultsPath}`);
}

/** The bare side of every insert case: the obvious per-row loop, one transaction per symbol. */
function bareInsert(sqlite: SqliteDatabase, symbols: readonly string[], batches: readonly (SyntheticBar[] | MinuteBarColumns)[]): number {
  const upsert = sqlite.prepare(BARE_UPSERT_SQL);
  const writeObjects = sqlite.transaction((symbol: string, bars: SyntheticBar[]) => {
    for (const bar of bars) {
      upsert.run(symbol, bar.timestamp, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.amount);
    }
  });
  const writeColumns = sqlite.transaction((symbol: string, bars: MinuteBarColumns) => {
    const { timestamp, open, high, low, close, volume, amount } = bars;
    for (let i = 0; i < timestamp.length; i++) {
      upsert.run(symbol, timestamp[i]!, open[i]!, high[i]!, low[i]!, close[i]!, volume[i]!, amount[i]!);
    }
  });
  let rows = 0;
  try {
    for (let s = 0; s < symbols.length; s++) {
      const batch = batches[s]!;
      if (Array.isArray(batch)) writeObjects.immediate(symbols[s]!, batch);
      else writeColumns.immediate(symbols[s]!, batch);
      rows += Array.isArray(batch) ? batch.length : batch.timestamp.length;
    }
  } finally {
    upsert.finalize();
  }
  return rows;
}

/** Days whose timestamp or OHLCV differ between the two resamplings (sums compared to 1e-9 relative). */
function dailyMismatches(ours: readonly Bar[], theirs: readonly Bar[]): number {
  let mismatches = Math.abs(ours.length - theirs.length);
  const close = (a: number | null, b: number | null) =>
    a === b || (a !== null && b !== null && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b)));
  for (let i = 0; i < Math.min(ours.length, theirs.length); i++) {
    const a = ours[i]!, b = theirs[i]!;
    const same =
      a.timestamp === b.timestamp && a.open === b.open && a.high === b.high && a.low === b.low && a.close === b.close &&
      close(a.volume, b.volume) && close(a.amount, b.amount);
    if (!same) mismatches++;
  }
  return mismatches;
}

// ---------------------------------------------------------------------------------------------
// Memory

interface MemoryResult {
  rows: number;
  rowsPerSecond: number;
  baselineRssMb: number;
  peakRssMb: number;
  deltaMb: number;
  limitMb: number;
  pass: boolean;
  /** For contrast: the RSS growth of materialising the same rows with getBars. */
  getBarsDeltaMb: number;
}

const MB = 1024 * 1024;

/**
 * A fresh process, so the RSS baseline is not inflated by the parent's million generated bars
 * and the pages its allocator keeps.
 */
async function spawnMemoryCase(path: string): Promise<MemoryResult | { error: string }> {
  const child = Bun.spawn([process.execPath, import.meta.path, "--memory-case", path, LONG_HISTORY_SYMBOL], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const output = await new Response(child.stdout).text();
  const code = await child.exited;
  const lastLine = output.trim().split("\n").pop() ?? "";
  if (code !== 0) return { error: `child exited with code ${code}: ${lastLine}` };
  try {
    return JSON.parse(lastLine) as MemoryResult;
  } catch {
    return { error: `unreadable child output: ${lastLine}` };
  }
}

/** The child's side: iterate every bar of `symbol`, sampling RSS every 10,000 rows. */
function measureIterationMemory(path: string, symbol: string): MemoryResult {
  const db = openDatabase({ path, readonly: true });
  try {
    Bun.gc(true);
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    let rows = 0;
    const start = Bun.nanoseconds();
    for (const _bar of db.iterateBars(symbol)) {
      rows++;
      if (rows % 10_000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    }
    const seconds = (Bun.nanoseconds() - start) / 1e9;
    peak = Math.max(peak, process.memoryUsage().rss);

    Bun.gc(true);
    const beforeGetBars = process.memoryUsage().rss;
    const all = db.getBars(symbol);
    const getBarsDeltaMb = (process.memoryUsage().rss - beforeGetBars) / MB;
    if (all.length !== rows) throw new Error(`iterateBars yielded ${rows} rows, getBars returned ${all.length}`);

    const deltaMb = (peak - baseline) / MB;
    return {
      rows,
      rowsPerSecond: rows / seconds,
      baselineRssMb: baseline / MB,
      peakRssMb: peak / MB,
      deltaMb,
      limitMb: MEMORY_LIMIT_MB,
      pass: deltaMb < MEMORY_LIMIT_MB,
      getBarsDeltaMb,
    };
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function printSummary(
  cases: readonly CaseResult[],
  cache: CacheBenchResults | null,
  memory: MemoryResult | { error: string },
  breakdown: Record<string, number>,
  scale: Scale,
  worker: WorkerBenchResults | { error: string } | null,
): string[] {
  const missed: string[] = [];
  const header = ["case", "tradelite rows/s", "bare rows/s", "ratio", "target", ""];
  const lines: string[][] = [header];
  for (const result of cases) {
    const verdict = result.pass === null ? "" : result.pass ? "PASS" : "MISS";
    if (result.pass === false) missed.push(`${result.title}: ratio ${result.ratio.toFixed(2)} < ${result.target!.minRatio.toFixed(2)}`);
    lines.push([
      result.title,
      formatRate(result.tradelite.medianRowsPerSecond),
      formatRate(result.bare.medianRowsPerSecond),
      result.ratio.toFixed(2),
      result.target ? `>= ${result.target.minRatio.toFixed(2)}` : "-",
      verdict,
    ]);
  }
  const widths = header.map((_, column) => Math.max(...lines.map((line) => line[column]!.length)));
  console.log(`\nSummary (median of ${scale.insertReps} insert / ${scale.readReps} read repetitions; ratio = tradelite / bare)`);
  for (const [index, line] of lines.entries()) {
    console.log(
      line.map((cell, column) => (column === 0 || column === 5 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ").trimEnd(),
    );
    if (index === 0) console.log(widths.map((width) => "-".repeat(width)).join("  "));
  }
  if (cache) missed.push(...printCacheSummary(cache));

  if ("error" in memory) {
    missed.push(`iterateBars memory: ${memory.error}`);
    console.log(`\niterateBars memory: ERROR (${memory.error})`);
  } else {
    if (!memory.pass) missed.push(`iterateBars memory: +${memory.deltaMb.toFixed(1)} MB >= ${memory.limitMb} MB`);
    console.log(
      `\niterateBars over ${memory.rows.toLocaleString("en-US")} rows: peak RSS +${memory.deltaMb.toFixed(1)} MB ` +
        `(baseline ${memory.baselineRssMb.toFixed(1)} MB), target < ${memory.limitMb} MB ${memory.pass ? "PASS" : "MISS"}; ` +
        `${formatRate(memory.rowsPerSecond)} rows/s; getBars of the same rows: +${memory.getBarsDeltaMb.toFixed(1)} MB`,
    );
  }

  const checks = cases.flatMap((result) => (Object.keys(result.checks).length ? [`${result.id} ${JSON.stringify(result.checks)}`] : []));
  for (const check of checks) console.log(`check: ${check}`);
  for (const [name, value] of Object.entries(breakdown)) console.log(`info: ${name} ${formatRate(value)}`);

  if (worker && "error" in worker) {
    missed.push(`worker backend cases: ${worker.error}`);
    console.log(`\nWorker backend cases: ERROR (${worker.error})`);
  } else if (worker) {
    missed.push(...printWorkerSummary(worker));
  }

  if (missed.length === 0) console.log("\nAll targets met.");
  else {
    console.log(`\nMISSED ${missed.length} target(s):`);
    for (const line of missed) console.log(`  - ${line}`);
  }
  return missed;
}

// ---------------------------------------------------------------------------------------------
// Entry

const args = process.argv.slice(2);
const memoryFlag = args.indexOf("--memory-case");
if (memoryFlag >= 0) {
  const path = args[memoryFlag + 1];
  const symbol = args[memoryFlag + 2];
  if (!path || !symbol) {
    console.error("usage: bun scripts/bench.ts --memory-case <database path> <symbol>");
    process.exit(2);
  }
  console.log(JSON.stringify(measureIterationMemory(path, symbol)));
} else {
  await runBenchmark(args.includes("--quick"));
}
