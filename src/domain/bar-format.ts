/**
 * Bars as text, defined once for every writer: the CSV line (cache files, CSV exports) and the
 * JSON object (HTTP JSON and NDJSON answers).
 *
 * CSV: ISO-8601 UTC timestamps with milliseconds, `\n` line endings, empty fields for NULL.
 * Numbers are written with JavaScript's shortest round-trip form, so every value reads back
 * bit-identical (but -0, which reads back as 0, as it does from the database).
 */
import type { Bar } from "./bar.ts";
import { formatIsoUtc } from "./time.ts";

export const CSV_HEADER = "timestamp,open,high,low,close,volume,amount";
export const CSV_HEADER_LINE = `${CSV_HEADER}\n`;

/** A value's CSV field: empty for NULL (null from the database, NaN in a validated batch). */
function cell(value: number | null): string {
  return value === null || value !== value ? "" : String(value);
}

/** One CSV line: the single place it is written. */
export function barCsvLine(
  timestamp: number, open: number | null, high: number | null, low: number | null,
  close: number | null, volume: number | null, amount: number | null,
): string {
  return `${formatIsoUtc(timestamp)},${cell(open)},${cell(high)},${cell(low)},${cell(close)},${cell(volume)},${cell(amount)}\n`;
}

/** A stored bar as one CSV line. */
export function formatBarCsv(bar: Bar): string {
  return barCsvLine(bar.timestamp, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.amount);
}

/**
 * A stored bar as JSON text, the same as JSON.stringify(bar) with the keys in schema order.
 * Every value is a finite number or null (the store holds nothing else), and for those
 * String(n) is JSON's own number form; writing the text directly skips JSON.stringify's
 * generic walk, which costs as much as the query on a day of minute bars.
 */
export function formatBarJson(bar: Bar): string {
  return `{"timestamp":${bar.timestamp},"open":${bar.open},"high":${bar.high},"low":${bar.low},"close":${bar.close},"volume":${bar.volume},"amount":${bar.amount}}`;
}

/** An array of stored bars as one JSON array text. */
export function formatBarsJson(bars: readonly Bar[]): string {
  if (bars.length === 0) return "[]";
  let text = "[";
  for (let i = 0; i < bars.length; i++) {
    if (i > 0) text += ",";
    text += formatBarJson(bars[i]!);
  }
  return `${text}]`;
}
