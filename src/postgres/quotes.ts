/**
 * quotes on PostgreSQL: level-1 snapshot upserts and range reads, as src/sqlite/quotes.ts does
 * them (one unnest statement text; repeats inside a batch resolved first, last one winning).
 */
import type { ZoneReading } from "../domain/time.ts";
import { batchSize, rowAt, timeSpan } from "../domain/batch.ts";
import { readQuery, type RangeQuery } from "../domain/query.ts";
import { QUOTE_VALUE_FIELDS, validateQuotes, type Quote, type QuoteColumns, type QuoteInput } from "../domain/quote.ts";
import { assertSymbol } from "../domain/symbol.ts";
import { lockAuditChain, type AuditRecorder } from "./audit.ts";
import { READ_COMMITTED, type PostgresPool } from "./connection.ts";

/** `audit`, when given, records `quotes.insert` in the insert's transaction, as SQLite does. */
export function createQuoteRepository(pool: PostgresPool, settings: ZoneReading, audit?: AuditRecorder) {
  return {
    async insertQuotes(symbol: string, input: readonly QuoteInput[] | QuoteColumns): Promise<number> {
      assertSymbol(symbol);
      const batch = validateQuotes(input, settings);
      const total = batchSize(batch);
      if (total === 0) return 0;
      const timestamps = new Array<number>(total);
      const values = QUOTE_VALUE_FIELDS.map(() => new Array<number | null>(total));
      for (let i = 0; i < total; i++) {
        const row = rowAt(batch, i);
        timestamps[i] = batch.timestamp[row]!;
        QUOTE_VALUE_FIELDS.forEach((field, c) => {
          const value = batch[field][row]!;
          values[c]![i] = value === value ? value : null;
        });
      }
      const [bid, bidSize, ask, askSize, last, volume] = values;
      const actor = audit?.actor();
      await pool.run((sql) =>
        sql.begin(READ_COMMITTED, async (tx) => {
          if (audit) await lockAuditChain(tx);
          await tx`
          INSERT INTO quotes (symbol, timestamp, bid, bid_size, ask, ask_size, last, volume)
          SELECT ${symbol}, t.timestamp, t.bid, t.bid_size, t.ask, t.ask_size, t.last, t.volume
          FROM unnest(${timestamps}::bigint[], ${bid}::float8[], ${bidSize}::float8[], ${ask}::float8[],
                      ${askSize}::float8[], ${last}::float8[], ${volume}::float8[])
               AS t(timestamp, bid, bid_size, ask, ask_size, last, volume)
          ON CONFLICT (symbol, timestamp) DO UPDATE SET
            bid = excluded.bid, bid_size = excluded.bid_size, ask = excluded.ask,
            ask_size = excluded.ask_size, last = excluded.last, volume = excluded.volume`;
          if (audit) await audit(tx, actor!, "quotes.insert", symbol, { rows: total, ...timeSpan(batch.timestamp) });
        }),
      );
      return total;
    },

    async getQuotes(symbol: string, query?: RangeQuery): Promise<Quote[]> {
      assertSymbol(symbol);
      const read = readQuery(query, settings);
      const limit = read.limit < 0 ? null : read.limit;
      const rows = await pool.run(async (sql) =>
        read.order === "desc"
          ? ((await sql`SELECT timestamp::float8 AS timestamp, bid, bid_size, ask, ask_size, last, volume FROM quotes
                WHERE symbol = ${symbol} AND timestamp BETWEEN ${read.start}::bigint AND ${read.end}::bigint
                ORDER BY quotes.timestamp DESC LIMIT ${limit}`) as Quote[])
          : ((await sql`SELECT timestamp::float8 AS timestamp, bid, bid_size, ask, ask_size, last, volume FROM quotes
                WHERE symbol = ${symbol} AND timestamp BETWEEN ${read.start}::bigint AND ${read.end}::bigint
                ORDER BY quotes.timestamp ASC LIMIT ${limit}`) as Quote[]),
      );
      return rows.map((row) => ({ timestamp: row.timestamp, bid: row.bid, bid_size: row.bid_size, ask: row.ask, ask_size: row.ask_size, last: row.last, volume: row.volume }));
    },
  };
}
