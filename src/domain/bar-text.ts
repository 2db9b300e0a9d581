/**
 * Bars as the text of a read's answer (JSON, CSV, NDJSON), written here once for the API's own
 * thread and for the sqlite-worker's readers. The readers produce an answer's bytes themselves
 * and hand them over (a transferred buffer), so the server's thread only routes and writes
 * (issue 20: turning columns into objects and stringifying them there held the worker store at
 * 0.30 of a bare Bun.serve handler). Both sides call these functions: the bytes cannot differ.
 */
import type { Bar } from "./bar.ts";
import { formatBarCsv } from "./bar-format.ts";
import type { BarQuery } from "./query.ts";

export type BarTextFormat = "json" | "csv" | "ndjson";

/**
 * The text of consecutive rows of an answer. JSON: the objects joined by commas (the answer puts
 * the brackets around, and a comma between chunks); CSV: lines without the header; NDJSON: lines.
 */
export function barTextChunk(bars: readonly Bar[], format: BarTextFormat): string {
  let text = "";
  if (format === "json") {
    for (let i = 0; i < bars.length; i++) text += (i === 0 ? "" : ",") + JSON.stringify(bars[i]);
  } else if (format === "csv") {
    for (let i = 0; i < bars.length; i++) text += formatBarCsv(bars[i]!);
  } else {
    for (let i = 0; i < bars.length; i++) text += `${JSON.stringify(bars[i])}\n`;
  }
  return text;
}

/**
 * Where a Store that can write its answers' bytes off the caller's thread keeps that ability (the
 * sqlite-worker store). A symbol, like CACHE_BACKEND: not part of the Store's method set.
 */
export const BAR_TEXT: unique symbol = Symbol.for("tradelite.barText");

export interface BarText {
  /**
   * getBars's rows as one JSON array (JSON.stringify's bytes, UTF-8), or null, with nothing
   * encoded, when there are more than `wholeRows` of them.
   */
  json(symbol: string, query: BarQuery | undefined, wholeRows: number): Promise<Uint8Array | null>;
  /** iterateBars's rows as chunks of barTextChunk's text, UTF-8 (none empty). */
  iterate(symbol: string, query: BarQuery | undefined, format: BarTextFormat): AsyncIterable<Uint8Array>;
}

/** The store's BarText, or null when it has none (then the caller formats the rows itself). */
export function barTextOf(store: object): BarText | null {
  return (store as { [BAR_TEXT]?: BarText })[BAR_TEXT] ?? null;
}
