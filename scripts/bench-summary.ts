/**
 * Cases 20 and 21 of `bun run bench`: what market_data_summary (src/sqlite/summary.ts) buys and
 * costs. 20: overview() against the GROUP BY over every bar it replaced, on the same file. 21:
 * insertBars of appended 240-row and 10,000-row batches, per batch: as shipped (triggers for other
 * writers, switched off while insertBars counts its own batch), with the per-row insert trigger
 * counting every row instead, with a change check instead of triggers (the touched symbol
 * recounted after each insert, on a second connection), and the bare per-row loop on a file
 * without triggers (the code a user would write without tradelite, or the summary). The sides take turns batch by batch, so a load spike
 * on this shared machine hits all of them.
 */
import { Database as SqliteDatabase } from "bun:sqlite";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { openDatabase, type Database, type SymbolOverview } from "../src/mod.ts";
import { mergeOverviews } from "../src/domain/daily.ts";
import { MARKED_OTHER_WRITER } from "../src/sqlite/own-write.ts";
import { BARE_UPSERT_SQL, median, openBare } from "./bench-support.ts";
import { randomWalk, sessionTimestamps, sliceColumns, type MinuteBarColumns } from "./synthetic-bars.ts";

export interface SummaryBenchContext {
  readonly workDir: string;
  readonly quick: boolean;
  /** A closed tradelite file holding the bench's market (every later case copies it). */
  readonly seedPath: string;
  readonly symbols: readonly string[];
  readonly rows: number;
}

export interface SummaryBenchResults {
  overview: { rows: number; symbols: number; summaryMs: number; groupByMs: number; speedup: number; same: boolean };
  inserts: { batchRows: number; batches: number; medianMs: Record<InsertSide, number> }[];
}

type InsertSide = "shipped" | "perRowTrigger" | "changeCheck" | "bareLoop";

/** overview() must take at most this long on the bench's store (the target at every size). */
const OVERVIEW_TARGET_MS = 10;

const GROUP_BY = (table: string) =>
  `SELECT symbol, count(*) AS count, min(timestamp) AS start, max(timestamp) AS "end" FROM ${table} GROUP BY symbol ORDER BY symbol`;

const SUMMARY_TRIGGERS = ["insert", "delete", "no_overwrite", "move"].map((event) => `market_data_summary_${event}`);

export function runSummaryCases(context: SummaryBenchContext): SummaryBenchResults {
  const { workDir, quick, seedPath, symbols, rows } = context;
  console.log(`\n20. overview() from the summary vs the GROUP BY it replaced, ${rows.toLocaleString("en-US")} rows, ${symbols.length} symbols`);
  const overview = overviewCase(seedPath, quick ? 15 : 31);
  console.log(
    `  summary ${overview.summaryMs.toFixed(3)} ms, GROUP BY ${overview.groupByMs.toFixed(1)} ms (median), ` +
      `x${overview.speedup.toFixed(0)}, same rows: ${overview.same}`,
  );

  console.log("\n21. insertBars bookkeeping: as shipped vs a per-row trigger vs a change check vs the bare loop (ms per appended batch, median)");
  const inserts = [
    insertCase(workDir, seedPath, symbols, 240, quick ? 100 : 400),
    insertCase(workDir, seedPath, symbols, 10_000, quick ? 6 : 20),
  ];
  for (const each of inserts) {
    const m = each.medianMs;
    console.log(
      `  ${each.batchRows}-row batches x ${each.batches}: shipped ${m.shipped.toFixed(3)}, per-row trigger ${m.perRowTrigger.toFixed(3)}, ` +
        `change check ${m.changeCheck.toFixed(3)}, bare loop ${m.bareLoop.toFixed(3)} (bare/shipped ${(m.bareLoop / m.shipped).toFixed(2)}, ` +
        `bare/per-row trigger ${(m.bareLoop / m.perRowTrigger).toFixed(2)}, bare/change check ${(m.bareLoop / m.changeCheck).toFixed(2)})`,
    );
  }
  return { overview, inserts };
}

function overviewCase(seedPath: string, reps: number): SummaryBenchResults["overview"] {
  const db = openDatabase({ path: seedPath, readonly: true });
  const bare = openBare(seedPath);
  try {
    const minutes = bare.prepare(GROUP_BY("market_data"));
    const daily = bare.prepare(GROUP_BY("market_data_daily"));
    const groupBy = () => mergeOverviews(minutes.all() as SymbolOverview[], daily.all() as never);
    const summaryTimes: number[] = [];
    const groupByTimes: number[] = [];
    let ours: SymbolOverview[] = [];
    let theirs: SymbolOverview[] = [];
    for (let rep = 0; rep < reps; rep++) {
      let start = Bun.nanoseconds();
      ours = db.overview();
      summaryTimes.push((Bun.nanoseconds() - start) / 1e6);
      start = Bun.nanoseconds();
      theirs = groupBy();
      groupByTimes.push((Bun.nanoseconds() - start) / 1e6);
    }
    const summaryMs = median(summaryTimes);
    const groupByMs = median(groupByTimes);
    return {
      rows: ours.reduce((sum, row) => sum + row.count, 0),
      symbols: ours.length,
      summaryMs,
      groupByMs,
      speedup: groupByMs / summaryMs,
      same: JSON.stringify(ours) === JSON.stringify(theirs),
    };
  } finally {
    db.close();
    bare.close();
  }
}

function insertCase(workDir: string, seedPath: string, symbols: readonly string[], batchRows: number, batches: number) {
  const copy = (label: string) => {
    const path = join(workDir, `summary-${label}-${batchRows}.db`);
    copyFileSync(seedPath, path);
    return path;
  };
  const shipped = openDatabase({ path: copy("shipped") });
  const perRowPath = copy("per-row");
  const checkPath = copy("check");
  {
    // Every insert counted by the trigger: the switch taken out of its WHEN (insertBars still
    // runs its own count, a few microseconds a batch, so this side is a slight overestimate).
    const raw = new SqliteDatabase(perRowPath);
    const { sql } = raw.query("SELECT sql FROM sqlite_master WHERE name = 'market_data_summary_insert'").get() as { sql: string };
    raw.run("DROP TRIGGER market_data_summary_insert");
    raw.run(sql.replace(`${MARKED_OTHER_WRITER} AND `, ""));
    raw.close();
    const check = new SqliteDatabase(checkPath);
    for (const name of SUMMARY_TRIGGERS) check.run(`DROP TRIGGER ${name}`);
    check.close();
  }
  const perRow = openDatabase({ path: perRowPath });
  const checked = openDatabase({ path: checkPath });
  // The change check: the touched symbol recounted (every one of its rows) and its row written.
  const checker = new SqliteDatabase(checkPath);
  const recount = checker.prepare(`INSERT INTO market_data_summary (series, symbol, count, first_timestamp, last_timestamp)
    SELECT 'minutes', symbol, count(*), min(timestamp), max(timestamp) FROM market_data WHERE symbol = ?1 GROUP BY symbol
    ON CONFLICT (series, symbol) DO UPDATE SET count = excluded.count, first_timestamp = excluded.first_timestamp, last_timestamp = excluded.last_timestamp`);
  const barePath = join(workDir, `summary-bare-${batchRows}.db`);
  const bare = openBare(barePath);
  bare.run(`CREATE TABLE market_data (symbol TEXT NOT NULL, timestamp TIMESTAMP NOT NULL, open REAL, high REAL, low REAL, close REAL,
    volume INTEGER, amount REAL, PRIMARY KEY (symbol, timestamp)) WITHOUT ROWID`);
  const bareUpsert = bare.prepare(BARE_UPSERT_SQL);

  const times: Record<InsertSide, number[]> = { shipped: [], perRowTrigger: [], changeCheck: [], bareLoop: [] };
  const insertSide = (db: Database, symbol: string, bars: MinuteBarColumns, after?: () => void) => {
    const start = Bun.nanoseconds();
    db.insertBars(symbol, bars);
    after?.();
    return (Bun.nanoseconds() - start) / 1e6;
  };
  // Appended after everything the seed holds (its days start 2024-01-02): live order.
  const timestamps = sessionTimestamps("2030-01-02", batchRows * batches);
  const walk = randomWalk(timestamps, batchRows);
  for (let b = 0; b < batches; b++) {
    const symbol = symbols[b % symbols.length]!;
    const bars = sliceColumns(walk, b * batchRows, (b + 1) * batchRows);
    times.shipped.push(insertSide(shipped, symbol, bars));
    times.perRowTrigger.push(insertSide(perRow, symbol, bars));
    times.changeCheck.push(
      insertSide(checked, symbol, bars, () => {
        checker.run("BEGIN IMMEDIATE");
        recount.run(symbol);
        checker.run("COMMIT");
      }),
    );
    const start = Bun.nanoseconds();
    bare.run("BEGIN IMMEDIATE");
    for (let row = 0; row < batchRows; row++) {
      bareUpsert.run(symbol, bars.timestamp[row]!, bars.open[row]!, bars.high[row]!, bars.low[row]!, bars.close[row]!, bars.volume[row]!, bars.amount[row]!);
    }
    bare.run("COMMIT");
    times.bareLoop.push((Bun.nanoseconds() - start) / 1e6);
  }
  for (const db of [shipped, perRow, checked]) db.close();
  checker.close();
  bare.close();
  const medianMs = Object.fromEntries(Object.entries(times).map(([side, values]) => [side, median(values)])) as Record<InsertSide, number>;
  return { batchRows, batches, medianMs };
}

/** The summary's lines of the closing table; returns the targets missed. */
export function printSummaryCases(results: SummaryBenchResults): string[] {
  const { overview, inserts } = results;
  console.log(`\nSummary table (20, 21): overview ${overview.summaryMs.toFixed(3)} ms vs GROUP BY ${overview.groupByMs.toFixed(1)} ms over ${overview.rows.toLocaleString("en-US")} rows (target <= ${OVERVIEW_TARGET_MS} ms)`);
  for (const { batchRows, medianMs: m } of inserts) {
    console.log(`  insertBars ${batchRows} rows / bare loop: shipped ${(m.bareLoop / m.shipped).toFixed(2)}, per-row trigger ${(m.bareLoop / m.perRowTrigger).toFixed(2)}, change check ${(m.bareLoop / m.changeCheck).toFixed(2)}`);
  }
  const missed: string[] = [];
  if (overview.summaryMs > OVERVIEW_TARGET_MS) missed.push(`20 overview ${overview.summaryMs.toFixed(1)} ms > ${OVERVIEW_TARGET_MS} ms`);
  if (!overview.same) missed.push("20 overview differs from the GROUP BY recount");
  return missed;
}
