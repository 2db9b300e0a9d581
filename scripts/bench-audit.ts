/**
 * Case 26 of `bun run bench` (also `bun scripts/bench-audit.ts [--quick]`): the audit log on the
 * live path, with the audit policy on its default (src/domain/audit-rollup.ts).
 *
 * a. A simulated live day: 200 symbols x 240 one-bar `storeBars` writes through a SessionCache
 *    (write-through, compaction every 240 writes) into a new file, minute by minute across the
 *    symbols as a recorder delivers them. Prints the audit log's bytes (audit_log and
 *    audit_pending pages, dbstat) over market_data's. Target <= 0.05.
 * b. insertBars of one-day (240-row) batches appended in live order to a new file against the
 *    bare per-row bun:sqlite loop on a new file without tradelite's triggers, batch by batch in
 *    turn so a load spike hits both; medians. Target >= 1.0.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, openStore } from "../src/mod.ts";
import { SessionCache } from "../src/entries/cache.ts";
import { BARE_UPSERT_SQL, median, openBare } from "./bench-support.ts";
import { randomWalk, sessionTimestamps, sliceColumns, SESSION_MINUTES_PER_DAY } from "./synthetic-bars.ts";

export interface AuditBenchResults {
  liveDay: { symbols: number; writes: number; entries: number; auditBytes: number; marketDataBytes: number; ratio: number; seconds: number };
  inserts: { batchRows: number; batches: number; tradeliteMs: number; bareMs: number; ratio: number };
}

export const AUDIT_BYTES_TARGET = 0.05;
export const INSERT_240_TARGET = 1.0;

/** Bytes of the pages of the tables (and their indexes) whose names match `pattern`, from dbstat. */
function pageBytes(path: string, patterns: readonly string[]): number {
  const sqlite = openBare(path);
  try {
    let bytes = 0;
    for (const pattern of patterns) {
      bytes += (sqlite.query("SELECT coalesce(sum(pgsize), 0) AS bytes FROM dbstat WHERE name LIKE ?").get(pattern) as { bytes: number }).bytes;
    }
    return bytes;
  } finally {
    sqlite.close();
  }
}

async function liveDay(workDir: string, symbols: number): Promise<AuditBenchResults["liveDay"]> {
  const path = join(workDir, "live-day.db");
  const store = await openStore({ backend: "sqlite", path });
  const cache = new SessionCache({ store, dir: join(workDir, "live-day-cache") });
  const names = Array.from({ length: symbols }, (_, i) => `${600000 + i}.SH`);
  const walks = names.map((_, i) => randomWalk(sessionTimestamps("2024-01-02", SESSION_MINUTES_PER_DAY), 1 + i));
  const started = Bun.nanoseconds();
  for (let minute = 0; minute < SESSION_MINUTES_PER_DAY; minute++) {
    for (let s = 0; s < symbols; s++) await cache.storeBars(names[s]!, sliceColumns(walks[s]!, minute, minute + 1));
  }
  const seconds = (Bun.nanoseconds() - started) / 1e9;
  const entries = (await store.audit.query()).length;
  await store.close();
  const auditBytes = pageBytes(path, ["audit%"]);
  const marketDataBytes = pageBytes(path, ["market_data", "sqlite_autoindex_market_data_%"]);
  return { symbols, writes: symbols * SESSION_MINUTES_PER_DAY, entries, auditBytes, marketDataBytes, ratio: auditBytes / marketDataBytes, seconds };
}

function inserts(workDir: string, batches: number): AuditBenchResults["inserts"] {
  const symbols = Array.from({ length: 100 }, (_, i) => `${600000 + i}.SH`);
  const days = Math.ceil(batches / symbols.length);
  const walks = symbols.map((_, i) => randomWalk(sessionTimestamps("2024-01-02", days * SESSION_MINUTES_PER_DAY), 7 + i));
  const dbPath = join(workDir, "inserts-tradelite.db");
  const barePath = join(workDir, "inserts-bare.db");
  const db = openDatabase({ path: dbPath });
  openDatabase({ path: barePath }).close();
  const bare = openBare(barePath, { withoutTriggers: true });
  const upsert = bare.prepare(BARE_UPSERT_SQL);
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let b = 0; b < batches; b++) {
    const s = b % symbols.length;
    const day = Math.floor(b / symbols.length);
    const bars = sliceColumns(walks[s]!, day * SESSION_MINUTES_PER_DAY, (day + 1) * SESSION_MINUTES_PER_DAY);
    let start = Bun.nanoseconds();
    db.insertBars(symbols[s]!, bars);
    ours.push((Bun.nanoseconds() - start) / 1e6);
    start = Bun.nanoseconds();
    bare.run("BEGIN IMMEDIATE");
    for (let row = 0; row < SESSION_MINUTES_PER_DAY; row++) {
      upsert.run(symbols[s]!, bars.timestamp[row]!, bars.open[row]!, bars.high[row]!, bars.low[row]!, bars.close[row]!, bars.volume[row]!, bars.amount[row]!);
    }
    bare.run("COMMIT");
    theirs.push((Bun.nanoseconds() - start) / 1e6);
  }
  upsert.finalize();
  bare.close();
  db.close();
  const tradeliteMs = median(ours);
  const bareMs = median(theirs);
  return { batchRows: SESSION_MINUTES_PER_DAY, batches, tradeliteMs, bareMs, ratio: bareMs / tradeliteMs };
}

export async function runAuditCases(workDir: string, quick: boolean): Promise<AuditBenchResults> {
  console.log("\n26. the audit log on the live path, default policy");
  const day = await liveDay(workDir, 200);
  console.log(
    `  a. live day, ${day.symbols} symbols x 240 one-bar cache writes (${day.seconds.toFixed(1)} s): ${day.entries} audit entries, ` +
      `audit ${(day.auditBytes / 1e6).toFixed(2)} MB / market_data ${(day.marketDataBytes / 1e6).toFixed(2)} MB = ${day.ratio.toFixed(3)} (target <= ${AUDIT_BYTES_TARGET})`,
  );
  const batches = inserts(workDir, quick ? 300 : 1_000);
  console.log(
    `  b. insertBars 240-row batches x ${batches.batches}, live order: ${batches.tradeliteMs.toFixed(3)} ms vs bare loop ${batches.bareMs.toFixed(3)} ms ` +
      `(median), ratio ${batches.ratio.toFixed(2)} (target >= ${INSERT_240_TARGET})`,
  );
  return { liveDay: day, inserts: batches };
}

/** The closing table's lines; returns the targets missed. */
export function printAuditSummary(results: AuditBenchResults): string[] {
  const { liveDay: day, inserts: batch } = results;
  console.log(`\nAudit (26): live day audit/market_data bytes ${day.ratio.toFixed(3)} (target <= ${AUDIT_BYTES_TARGET}); insertBars 240 rows / bare loop ${batch.ratio.toFixed(2)} (target >= ${INSERT_240_TARGET})`);
  const missed: string[] = [];
  if (day.ratio > AUDIT_BYTES_TARGET) missed.push(`26a audit bytes ${day.ratio.toFixed(3)} > ${AUDIT_BYTES_TARGET}`);
  if (batch.ratio < INSERT_240_TARGET) missed.push(`26b insertBars 240 rows ${batch.ratio.toFixed(2)} < ${INSERT_240_TARGET}`);
  return missed;
}

if (import.meta.main) {
  const workDir = mkdtempSync(join(tmpdir(), "tradelite-bench-audit-"));
  try {
    const results = await runAuditCases(workDir, process.argv.includes("--quick"));
    if (process.argv.includes("--json")) console.log(JSON.stringify(results));
    printAuditSummary(results);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
