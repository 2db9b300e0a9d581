/**
 * What the benchmark modules share: the timing and median rules, and the bare bun:sqlite code
 * every floor is written with (the obvious connection setup and single-row upsert).
 */
import { Database as SqliteDatabase } from "bun:sqlite";
import { rmSync } from "node:fs";

export interface Sample {
  rows: number;
  seconds: number;
}

/** Collects garbage first so that one run's garbage is not collected on the next run's clock. */
export function timed(work: () => number): Sample {
  Bun.gc(true);
  const start = Bun.nanoseconds();
  const rows = work();
  return { rows, seconds: (Bun.nanoseconds() - start) / 1e9 };
}

/** The same for work that awaits (the SessionCache's methods are async). */
export async function timedAsync(work: () => Promise<number>): Promise<Sample> {
  Bun.gc(true);
  const start = Bun.nanoseconds();
  const rows = await work();
  return { rows, seconds: (Bun.nanoseconds() - start) / 1e9 };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The nearest-rank percentile (0 < p <= 100) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function formatRate(rowsPerSecond: number): string {
  return Math.round(rowsPerSecond).toLocaleString("en-US");
}

/** The obvious hand-written upsert: one row per statement, every value column replaced. */
export const BARE_UPSERT_SQL = `INSERT INTO market_data (symbol,timestamp,open,high,low,close,volume,amount)
VALUES (?,?,?,?,?,?,?,?)
ON CONFLICT(symbol,timestamp) DO UPDATE SET open=excluded.open, high=excluded.high, low=excluded.low,
  close=excluded.close, volume=excluded.volume, amount=excluded.amount`;

/**
 * A bare connection with the pragmas tradelite sets on its own (WAL, synchronous NORMAL). With
 * `withoutTriggers`, the triggers a tradelite file carries on its bar tables (the per-symbol
 * summary's, src/sqlite/summary.ts) are dropped first: a hand-written program's table has none,
 * and tradelite's own insertBars switches them off and counts its batch itself, so a bare loop
 * paying them would flatter the ratio.
 */
export function openBare(path: string, options: { withoutTriggers?: boolean } = {}): SqliteDatabase {
  const sqlite = new SqliteDatabase(path);
  sqlite.run("PRAGMA journal_mode = WAL");
  sqlite.run("PRAGMA synchronous = NORMAL");
  if (options.withoutTriggers) {
    const triggers = sqlite.query("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('market_data', 'market_data_daily')").all() as { name: string }[];
    // Names read from our own schema, quoted as identifiers.
    for (const { name } of triggers) sqlite.run(`DROP TRIGGER "${name.replaceAll('"', '""')}"`);
  }
  return sqlite;
}

export function removeDatabaseFile(path: string): void {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(path + suffix, { force: true });
}
