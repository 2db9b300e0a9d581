/**
 * market_data on PostgreSQL: set-based upserts, range reads, deletes, the overview. The same
 * inputs give the same results as src/sqlite/bars.ts (test/postgres/bars.test.ts compares them).
 *
 * Inserts send each column as one array parameter and unnest them (one statement text whatever
 * the batch: a `sql(rows)` helper would leave a new server-side prepared statement per batch
 * shape). Duplicate timestamps inside a batch are resolved before the statement, last one
 * winning, by the domain's write order, so ON CONFLICT never meets a row twice. int8 comes back
 * from Bun.SQL as a string; reads cast it to float8 (exact below 2^53, which every epoch ms the
 * store accepts is), so a Bar holds numbers as SQLite's does.
 */
import type { SQL } from "bun";
import { batchSize, rowAt } from "../domain/batch.ts";
import { BAR_VALUE_FIELDS, validateBars, type Bar, type BarColumns, type BarInput } from "../domain/bar.ts";
import { StorageError } from "../domain/errors.ts";
import { BAR_QUERY_KEYS, readQuery, readRange, readResampling, type BarQuery, type BarTimestamp, type TimeRange } from "../domain/query.ts";
import type { SymbolOverview } from "../domain/store.ts";
import { assertSymbol } from "../domain/symbol.ts";
import type { PostgresPool } from "./connection.ts";

export interface PgBarSettings {
  readonly timezone: string;
  readonly barTimestamp: BarTimestamp;
}

/** Rows per INSERT statement: large enough to amortise the round trip, bounded in memory. */
const ROWS_PER_STATEMENT = 50_000;

export function createPgBars(pool: PostgresPool, settings: PgBarSettings) {
  const { timezone } = settings;

  async function upsert(tx: SQL, symbol: string, timestamps: number[], values: (number | null)[][]): Promise<void> {
    const [open, high, low, close, volume, amount] = values;
    await tx`
      INSERT INTO market_data (symbol, timestamp, open, high, low, close, volume, amount)
      SELECT ${symbol}, t.timestamp, t.open, t.high, t.low, t.close, t.volume, t.amount
      FROM unnest(${timestamps}::bigint[], ${open}::float8[], ${high}::float8[], ${low}::float8[],
                  ${close}::float8[], ${volume}::float8[], ${amount}::float8[])
           AS t(timestamp, open, high, low, close, volume, amount)
      ON CONFLICT (symbol, timestamp) DO UPDATE SET
        open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
        volume = excluded.volume, amount = excluded.amount`;
  }

  return {
    /** Upserts bars on (symbol, timestamp) in one transaction; returns the rows written. */
    async insertBars(symbol: string, input: readonly BarInput[] | BarColumns): Promise<number> {
      assertSymbol(symbol);
      const batch = validateBars(input, timezone);
      const total = batchSize(batch);
      if (total === 0) return 0;
      const columns = BAR_VALUE_FIELDS.map((field) => batch[field]);
      await pool.run((sql) =>
        sql.begin(async (tx) => {
          for (let from = 0; from < total; from += ROWS_PER_STATEMENT) {
            const count = Math.min(ROWS_PER_STATEMENT, total - from);
            const timestamps = new Array<number>(count);
            const values = columns.map(() => new Array<number | null>(count));
            for (let i = 0; i < count; i++) {
              const row = rowAt(batch, from + i);
              timestamps[i] = batch.timestamp[row]!;
              for (let c = 0; c < columns.length; c++) {
                const value = columns[c]![row]!;
                // NaN marks a missing value in a validated batch: NULL.
                values[c]![i] = value === value ? value : null;
              }
            }
            await upsert(tx, symbol, timestamps, values);
          }
          // The session cache rebuilds a symbol whose market_data moved on without it.
          await tx`UPDATE session_cache SET market_version = market_version + 1 WHERE symbol = ${symbol}`;
        }),
      );
      return total;
    },

    /** Bars as stored, in a range, ascending by default. Resampling is not built on PostgreSQL yet. */
    async getBars(symbol: string, query?: BarQuery): Promise<Bar[]> {
      assertSymbol(symbol);
      const read = readQuery(query, timezone, BAR_QUERY_KEYS);
      const { interval } = readResampling(query, settings.barTimestamp);
      if (interval !== undefined) throw new StorageError("NOT_SUPPORTED", "resampling is not built on the PostgreSQL backend yet");
      const limit = read.limit < 0 ? null : read.limit;
      return pool.run(async (sql) =>
        read.order === "desc"
          ? ((await sql`SELECT timestamp::float8 AS timestamp, open, high, low, close, volume, amount FROM market_data
                WHERE symbol = ${symbol} AND timestamp BETWEEN ${read.start} AND ${read.end}
                ORDER BY timestamp DESC LIMIT ${limit}`) as Bar[])
          : ((await sql`SELECT timestamp::float8 AS timestamp, open, high, low, close, volume, amount FROM market_data
                WHERE symbol = ${symbol} AND timestamp BETWEEN ${read.start} AND ${read.end}
                ORDER BY timestamp ASC LIMIT ${limit}`) as Bar[]),
      ).then((rows) => rows.map(plainBar));
    },

    async latestBar(symbol: string): Promise<Bar | null> {
      assertSymbol(symbol);
      const rows = await pool.run(
        async (sql) => (await sql`SELECT timestamp::float8 AS timestamp, open, high, low, close, volume, amount FROM market_data WHERE symbol = ${symbol} ORDER BY timestamp DESC LIMIT 1`) as Bar[],
      );
      return rows.length === 0 ? null : plainBar(rows[0]!);
    },

    /** Deletes the bars in a range (inclusive; the whole symbol when the range is empty). */
    async deleteBars(symbol: string, range?: TimeRange): Promise<number> {
      assertSymbol(symbol);
      const { start, end } = readRange(range, timezone);
      return pool.run((sql) =>
        sql.begin(async (tx) => {
          const deleted = await tx`DELETE FROM market_data WHERE symbol = ${symbol} AND timestamp BETWEEN ${start} AND ${end}`;
          if (deleted.count > 0) await tx`UPDATE session_cache SET market_version = market_version + 1 WHERE symbol = ${symbol}`;
          return deleted.count;
        }),
      );
    },

    async overview(): Promise<SymbolOverview[]> {
      const rows = await pool.run(
        async (sql) =>
          (await sql`SELECT symbol, count(*)::float8 AS count, min(timestamp)::float8 AS start, max(timestamp)::float8 AS "end"
                     FROM market_data GROUP BY symbol ORDER BY symbol COLLATE "C"`) as SymbolOverview[],
      );
      return rows.map((row) => ({ symbol: row.symbol, count: row.count, start: row.start, end: row.end }));
    },
  };
}

/** A row as a plain Bar object with the fields in the order SQLite's rows have them. */
function plainBar(row: Bar): Bar {
  return { timestamp: row.timestamp, open: row.open, high: row.high, low: row.low, close: row.close, volume: row.volume, amount: row.amount };
}
