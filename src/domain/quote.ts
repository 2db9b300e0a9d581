/**
 * Quotes: level-1 snapshots (best bid and ask with sizes, last price, cumulative volume).
 */
import { z } from "zod";
import type { Issue } from "./errors.ts";
import { checkNonNegative, checkPositive, validateBatch, type Batch, type BatchSpec } from "./batch.ts";
import type { NumberColumn } from "./bar.ts";
import type { TimeReading, TimestampInput } from "./time.ts";

export interface Quote {
  /** Epoch milliseconds, UTC. */
  timestamp: number;
  bid: number | null;
  bid_size: number | null;
  ask: number | null;
  ask_size: number | null;
  last: number | null;
  volume: number | null;
}

export interface QuoteInput {
  timestamp: TimestampInput;
  bid?: number | null;
  bid_size?: number | null;
  ask?: number | null;
  ask_size?: number | null;
  last?: number | null;
  volume?: number | null;
}

export interface QuoteColumns {
  timestamp: ArrayLike<TimestampInput> | Float64Array | BigInt64Array;
  bid?: NumberColumn;
  bid_size?: NumberColumn;
  ask?: NumberColumn;
  ask_size?: NumberColumn;
  last?: NumberColumn;
  volume?: NumberColumn;
}

export const QUOTE_VALUE_FIELDS = ["bid", "bid_size", "ask", "ask_size", "last", "volume"] as const;
export type QuoteValueField = (typeof QUOTE_VALUE_FIELDS)[number];
export type QuoteBatch = Batch<QuoteValueField>;

export const QuoteSchema = z.object({
  timestamp: z.number().int().describe("epoch milliseconds, UTC"),
  bid: z.number().nullable(),
  bid_size: z.number().nullable(),
  ask: z.number().nullable(),
  ask_size: z.number().nullable(),
  last: z.number().nullable(),
  volume: z.number().nullable(),
});

/** Prices > 0, sizes and volume >= 0, bid <= ask where both are present (a crossed book is bad data). */
function checkQuotes(quotes: QuoteBatch, issues: Issue[]): void {
  checkPositive(quotes.bid, "bid", issues);
  checkPositive(quotes.ask, "ask", issues);
  checkPositive(quotes.last, "last", issues);
  checkNonNegative(quotes.bid_size, "bid_size", issues);
  checkNonNegative(quotes.ask_size, "ask_size", issues);
  checkNonNegative(quotes.volume, "volume", issues);
  const { bid, ask } = quotes;
  for (let i = 0; i < quotes.length; i++) {
    if (bid[i]! > ask[i]!) issues.push({ row: i, field: "bid", message: `bid ${bid[i]} is above ask ${ask[i]}` });
  }
}

const QUOTE_SPEC: BatchSpec<QuoteValueField> = { noun: "quote", fields: QUOTE_VALUE_FIELDS, check: checkQuotes };

export function validateQuotes(input: readonly QuoteInput[] | QuoteColumns, reading: TimeReading): QuoteBatch {
  return validateBatch(QUOTE_SPEC, input, reading);
}
