/**
 * Bars: the type, the accepted input shapes, and the one validation every entry point uses
 * (the embedded store, the session cache, the HTTP API and the importer).
 */
import { z } from "zod";
import type { Issue } from "./errors.ts";
import { checkNonNegative, checkPositive, validateBatch, type Batch, type BatchSpec } from "./batch.ts";
import type { TimeReading, TimestampInput } from "./time.ts";

/** One OHLCV bar as the store returns it. Prices and sizes are null where the source had none. */
export interface Bar {
  /** Epoch milliseconds, UTC. */
  timestamp: number;
  open: number | null;
  high: number | null;
  low: number | null;
  close: number | null;
  volume: number | null;
  amount: number | null;
  /** Only on a bar a read made up for a missing stamp (`fill: "previous"`); never stored. */
  filled?: true;
}

/** One bar as callers may pass it. An omitted price or size is stored as NULL. */
export interface BarInput {
  timestamp: TimestampInput;
  open?: number | null;
  high?: number | null;
  low?: number | null;
  close?: number | null;
  volume?: number | null;
  amount?: number | null;
}

/** A numeric column: an array (null for a missing value) or a typed array. */
export type NumberColumn = ArrayLike<number | null> | Float64Array | Float32Array | Int32Array | Uint32Array;

/**
 * Bars as equal-length columns, the shape numeric code already has. `timestamp` is required
 * (epoch ms as numbers or a BigInt64Array, or any timestamp input); an omitted column is all NULL.
 */
export interface BarColumns {
  timestamp: ArrayLike<TimestampInput> | Float64Array | BigInt64Array;
  open?: NumberColumn;
  high?: NumberColumn;
  low?: NumberColumn;
  close?: NumberColumn;
  volume?: NumberColumn;
  amount?: NumberColumn;
}

export const BAR_VALUE_FIELDS = ["open", "high", "low", "close", "volume", "amount"] as const;
export type BarValueField = (typeof BAR_VALUE_FIELDS)[number];
export type BarBatch = Batch<BarValueField>;

/** The zod schema of a stored bar: what crosses the HTTP boundary and the OpenAPI document. */
export const BarSchema = z.object({
  timestamp: z.number().int().describe("epoch milliseconds, UTC"),
  open: z.number().nullable(),
  high: z.number().nullable(),
  low: z.number().nullable(),
  close: z.number().nullable(),
  volume: z.number().nullable(),
  amount: z.number().nullable(),
  filled: z.literal(true).optional().describe("present only on a bar made up for a missing stamp (fill=previous)"),
});

/** Prices > 0, volume and amount >= 0, low <= min(open, close) and max(open, close) <= high. */
function checkBars(bars: BarBatch, issues: Issue[]): void {
  checkPositive(bars.open, "open", issues);
  checkPositive(bars.high, "high", issues);
  checkPositive(bars.low, "low", issues);
  checkPositive(bars.close, "close", issues);
  checkNonNegative(bars.volume, "volume", issues);
  checkNonNegative(bars.amount, "amount", issues);
  const { open, high, low, close } = bars;
  for (let i = 0; i < bars.length; i++) {
    const o = open[i]!, h = high[i]!, l = low[i]!, c = close[i]!;
    // NaN (a missing value) compares false, so each rule applies only where its values exist.
    if (l > h) issues.push({ row: i, field: "low", message: `low ${l} is above high ${h}` });
    if (o > h) issues.push({ row: i, field: "high", message: `high ${h} is below open ${o}` });
    if (c > h) issues.push({ row: i, field: "high", message: `high ${h} is below close ${c}` });
    if (o < l) issues.push({ row: i, field: "low", message: `low ${l} is above open ${o}` });
    if (c < l) issues.push({ row: i, field: "low", message: `low ${l} is above close ${c}` });
  }
}

const BAR_SPEC: BatchSpec<BarValueField> = { noun: "bar", fields: BAR_VALUE_FIELDS, check: checkBars };

/**
 * Validates bars (an array of BarInput or a BarColumns object) read in `timeZone`, or throws a
 * ValidationError listing every bad row's index, field and reason.
 */
export function validateBars(input: readonly BarInput[] | BarColumns, reading: TimeReading): BarBatch {
  return validateBatch(BAR_SPEC, input, reading);
}
