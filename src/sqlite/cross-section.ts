/**
 * The as-of cross-section on SQLite (src/domain/cross-section.ts): each symbol's latest bar at or
 * before an instant, in one statement of index seeks on the (symbol, timestamp) primary key, so
 * its cost grows with the number of symbols, not with the bars stored.
 */
import type { Bar } from "../domain/bar.ts";
import { adjustCrossSection, crossSectionOf, readCrossSectionQuery, type CrossSection } from "../domain/cross-section.ts";
import type { AdjustmentFactor } from "../domain/adjustment.ts";
import { readSignal, throwIfCancelled } from "../domain/query.ts";
import type { ZoneReading } from "../domain/time.ts";
import { guard, type Connection } from "./connection.ts";
import { SUMMARY_SERIES } from "../domain/overview.ts";

/**
 * Per symbol, two seeks: `SELECT max(timestamp) ... WHERE symbol = ? AND timestamp <= ?` is
 * answered from the primary key's b-tree (SQLite's min/max optimisation), then the row by its
 * key. The symbols come as one JSON array through json_each, so one statement text serves any
 * list (an IN list of ? would prepare a new statement per length). Every symbol, when none are
 * named, comes from a skip-scan: a recursive CTE asking the key for the next symbol after the
 * last, one seek per distinct symbol where `SELECT DISTINCT symbol` (and the overview's GROUP
 * BY) reads every row (now the summary table's rows instead, see everySymbol). Measured on the 10M-bar store of scripts/bench-cross-section.ts (5,000
 * symbols x 2,000 minutes, 800 MB): named ~35-40 ms, every symbol ~55 ms (the skip-scan alone
 * ~29 ms), a JavaScript loop of 5,000 prepared `ORDER BY timestamp DESC LIMIT 1` lookups
 * ~76-90 ms, the same subquery in place of max() ~45 ms, `GROUP BY symbol` with max() ~1 s and
 * row_number() over each symbol ~4.7 s (both read every bar before the instant). Each seek is a
 * few page reads that the default 2 MB page cache does not keep: with `PRAGMA mmap_size` of
 * 1 GB or a 256 MB cache the named read took ~10 ms, a connection-wide choice left for later.
 */
const latestSql = (table: string, symbols: string) => `
WITH RECURSIVE ${symbols}
SELECT s.symbol AS symbol, b.timestamp AS timestamp, b.open AS open, b.high AS high, b.low AS low,
       b.close AS close, b.volume AS volume, b.amount AS amount
FROM symbols AS s
JOIN ${table} AS b ON b.symbol = s.symbol AND b.timestamp = (
  SELECT max(timestamp) FROM ${table} WHERE symbol = s.symbol AND timestamp <= $through)
ORDER BY s.symbol`;

const NAMED = `symbols(symbol) AS (SELECT value FROM json_each($symbols))`;

/**
 * Every symbol of a series with a bar at or before the instant, from market_data_summary (kept
 * exact by triggers, src/sqlite/summary.ts): one row a symbol, where the skip-scan this replaced
 * sought each next symbol in the bars' key (~29 ms of the ~55 ms the read took on 10M bars).
 * `table` is our own constant.
 */
const everySymbol = (table: string) => {
  const series = SUMMARY_SERIES.find((entry) => entry.table === table)!.series;
  return `symbols(symbol) AS (SELECT symbol FROM market_data_summary WHERE series = '${series}' AND first_timestamp <= $through)`;
};

type Row = { symbol: string } & Bar;

/** `settings` is read at each call: a zone change takes effect on the next one. */
/** `factorsOf` reads a symbol's adjustment factors, for a read that adjusts (src/sqlite/adjustments.ts). */
export function createCrossSectionReader(conn: Connection, settings: ZoneReading, factorsOf: (symbol: string) => readonly AdjustmentFactor[] = () => []) {
  const statements = {
    "1m": { named: conn.prepare<Row>(latestSql("market_data", NAMED)), every: conn.prepare<Row>(latestSql("market_data", everySymbol("market_data"))) },
    "1d": {
      named: conn.prepare<Row>(latestSql("market_data_daily", NAMED)),
      every: conn.prepare<Row>(latestSql("market_data_daily", everySymbol("market_data_daily"))),
    },
  };
  return function getCrossSection(query: unknown): CrossSection {
    const read = readCrossSectionQuery(query, settings);
    // One statement: the only place it can stop is before it starts.
    throwIfCancelled(readSignal(query as { signal?: unknown }));
    conn.assertOpen();
    const { named, every } = statements[read.interval];
    const found = guard(() =>
      read.symbols === undefined
        ? every.all({ through: read.through } as never)
        : named.all({ through: read.through, symbols: JSON.stringify(read.symbols) } as never),
    );
    const rows = found.map(({ symbol, ...bar }) => ({ symbol, bar }));
    adjustCrossSection(read, rows, factorsOf, settings.timezone);
    return crossSectionOf(read, rows);
  };
}
