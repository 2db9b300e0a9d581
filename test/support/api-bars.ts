/**
 * Deterministic minute bars for the API tests, computed from the row index alone, so a test can
 * stream a million rows out (or check a million rows coming back) without ever holding them.
 *
 * Every price is a whole number of cents divided by 100, so String(value) is its short decimal
 * ("10.57") and the CSV the server writes back is the text sent, byte for byte.
 */
import type { Bar, BarColumns } from "../../src/mod.ts";

/** The first bar: 2024-01-02T01:31:00.000Z (09:31 in Shanghai). */
export const T0 = Date.UTC(2024, 0, 2, 1, 31);
export const MINUTE = 60_000;
export const DAY = 86_400_000;
export const CSV_HEADER_LINE = "timestamp,open,high,low,close,volume,amount\n";

/** Row `i` of series `seed`: consistent (low <= open, close <= high), every price > 0. */
export function genBar(i: number, seed: number): Bar {
  const base = 1_000 + ((i * 7 + seed * 131) % 2_000);
  const open = base;
  const close = base + ((i * 13 + seed) % 21) - 10;
  const high = Math.max(open, close) + (i % 5);
  const low = Math.min(open, close) - (i % 3);
  const volume = 100 * (1 + ((i + seed) % 50));
  return {
    timestamp: T0 + i * MINUTE,
    open: open / 100,
    high: high / 100,
    low: low / 100,
    close: close / 100,
    volume,
    amount: (volume * close) / 100,
  };
}

/** The CSV line the server writes for a bar (formatBarCsv's format). */
export function csvLine(bar: Bar): string {
  return `${new Date(bar.timestamp).toISOString()},${bar.open},${bar.high},${bar.low},${bar.close},${bar.volume},${bar.amount}\n`;
}

/** Sums that change when any value of any row changes: prices in cents, volume, amount in cents. */
export interface Checksum {
  rows: number;
  priceCents: number;
  volume: number;
  amountCents: number;
}

export function emptyChecksum(): Checksum {
  return { rows: 0, priceCents: 0, volume: 0, amountCents: 0 };
}

/** Adds one row's values (numbers as read back) to `sum`. */
export function addToChecksum(sum: Checksum, open: number, high: number, low: number, close: number, volume: number, amount: number): void {
  sum.rows++;
  // Weighted, so swapping two columns changes the sum too.
  sum.priceCents += Math.round(open * 100) + 3 * Math.round(high * 100) + 5 * Math.round(low * 100) + 7 * Math.round(close * 100);
  sum.volume += volume;
  sum.amountCents += Math.round(amount * 100);
}

/** The checksum of rows [from, from + count) of series `seed`. */
export function expectedChecksum(count: number, seed: number, from = 0): Checksum {
  const sum = emptyChecksum();
  for (let i = from; i < from + count; i++) {
    const bar = genBar(i, seed);
    addToChecksum(sum, bar.open!, bar.high!, bar.low!, bar.close!, bar.volume!, bar.amount!);
  }
  return sum;
}

/**
 * A CSV upload of rows [from, from + count) of series `seed`, generated as it is read
 * (pull-based, `rowsPerChunk` rows per chunk): the whole text never exists.
 */
export function csvUploadStream(count: number, seed: number, options: { from?: number; rowsPerChunk?: number } = {}): ReadableStream<Uint8Array> {
  const { from = 0, rowsPerChunk = 8_192 } = options;
  const encoder = new TextEncoder();
  let next = from;
  const end = from + count;
  let headerSent = false;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        let text = headerSent ? "" : CSV_HEADER_LINE;
        headerSent = true;
        const stop = Math.min(end, next + rowsPerChunk);
        for (; next < stop; next++) text += csvLine(genBar(next, seed));
        if (text !== "") controller.enqueue(encoder.encode(text));
        if (next >= end) controller.close();
      },
    },
    { highWaterMark: 0 },
  );
}

/** Rows [from, from + count) of series `seed` as typed columns (for preloading a database). */
export function barColumns(count: number, seed: number, from = 0): BarColumns {
  const columns = {
    timestamp: new Float64Array(count),
    open: new Float64Array(count),
    high: new Float64Array(count),
    low: new Float64Array(count),
    close: new Float64Array(count),
    volume: new Float64Array(count),
    amount: new Float64Array(count),
  };
  for (let k = 0; k < count; k++) {
    const bar = genBar(from + k, seed);
    columns.timestamp[k] = bar.timestamp;
    columns.open[k] = bar.open!;
    columns.high[k] = bar.high!;
    columns.low[k] = bar.low!;
    columns.close[k] = bar.close!;
    columns.volume[k] = bar.volume!;
    columns.amount[k] = bar.amount!;
  }
  return columns;
}

/**
 * Reads a streamed text answer line by line (`\n`), calling `onLine` for each without keeping
 * the text; returns how many bytes arrived.
 */
export async function forEachLine(body: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<number> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let carry = "";
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.byteLength;
    const text = carry + decoder.decode(chunk, { stream: true });
    let at = 0;
    for (let nl = text.indexOf("\n", at); nl >= 0; nl = text.indexOf("\n", at)) {
      onLine(text.slice(at, nl));
      at = nl + 1;
    }
    carry = text.slice(at);
  }
  carry += decoder.decode();
  if (carry !== "") onLine(carry);
  return bytes;
}
