/**
 * quotes: level-1 snapshot upserts and range reads.
 */
import type { ZoneReading } from "../domain/time.ts";
import { QUOTE_VALUE_FIELDS, validateQuotes, type Quote, type QuoteColumns, type QuoteInput } from "../domain/quote.ts";
import { readQuery, type RangeQuery } from "../domain/query.ts";
import { assertSymbol } from "../domain/symbol.ts";
import type { AuditRecorder } from "./audit.ts";
import { timeSpan } from "../domain/batch.ts";
import type { Connection } from "./connection.ts";
import { prepareSeries } from "./series.ts";
import { prepareUpsert } from "./upsert.ts";

export function createQuoteRepository(conn: Connection, settings: ZoneReading, audit: AuditRecorder) {
  const writeQuotes = prepareUpsert(conn, "quotes", QUOTE_VALUE_FIELDS);
  const series = prepareSeries<Quote>(conn, "quotes", QUOTE_VALUE_FIELDS);
  return {
    insert(symbol: string, quotes: readonly QuoteInput[] | QuoteColumns): number {
      assertSymbol(symbol);
      const batch = validateQuotes(quotes, settings);
      if (batch.length === 0) return 0;
      return conn.writeTransaction(() => {
        const written = writeQuotes(symbol, batch);
        audit("quotes.insert", symbol, { rows: written, ...timeSpan(batch.timestamp) });
        return written;
      });
    },
    get(symbol: string, query?: RangeQuery): Quote[] {
      assertSymbol(symbol);
      return series.read(symbol, readQuery(query, settings));
    },
  };
}
