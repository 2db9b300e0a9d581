/**
 * The cache file format: header, one line per bar (the line is domain/bar-format.ts's, shared
 * with CSV exports), read back strictly.
 */
import Papa from "papaparse";
import { validateBars, type Bar, type BarBatch } from "../domain/bar.ts";
import { rowAt, batchSize } from "../domain/batch.ts";
import { ValidationError } from "../domain/errors.ts";
import { barCsvLine, CSV_HEADER, CSV_HEADER_LINE, formatBarCsv, NUMBER } from "../domain/bar-format.ts";

export { CSV_HEADER, CSV_HEADER_LINE };

/** The lines of a validated batch, in write order (ascending, one per timestamp). */
export function formatBarLines(batch: BarBatch): string {
  let text = "";
  const { timestamp, open, high, low, close, volume, amount } = batch;
  for (let position = 0, total = batchSize(batch); position < total; position++) {
    const i = rowAt(batch, position);
    text += barCsvLine(timestamp[i]!, open[i]!, high[i]!, low[i]!, close[i]!, volume[i]!, amount[i]!);
  }
  return text;
}

/** The same for bars read back from the database. */
export function formatStoredBars(bars: readonly Bar[]): string[] {
  return bars.map(formatBarCsv);
}

/**
 * The timestamp field of a cache line. ISO-8601 UTC with milliseconds has a fixed width for
 * years 0001-9999, so these keys sort as text in time order: compaction never parses a number.
 */
export function lineKey(line: string): string {
  return line.slice(0, line.indexOf(","));
}

export interface ParsedCacheFile {
  /** Bars in file order, one per readable line (duplicates kept: the later one wins downstream). */
  bars: Bar[];
  /** The readable lines, exactly as in the file (with their `\n`). */
  lines: string[];
  /** 1-based line numbers (the header is line 1) of lines that could not be read. */
  badLines: number[];
  /** True when the file does not end in `\n`: its last line was cut. */
  partialLastLine: boolean;
  headerOk: boolean;
}

/**
 * Reads a cache file's text strictly with papaparse: the header must be ours, every line seven
 * fields, every value the kind the writer writes and every bar valid by the bar rules. Lines that
 * are not are reported, not guessed at. This is the importer's `cache` profile in its strictest
 * form, with the same parts (the field list CSV_HEADER, the number pattern NUMBER, the bar rules
 * and the domain's time parser through validateBars); what is its own is recovery from a torn
 * file: it is synchronous over the whole file, keeps each good line's text for compaction, and
 * goes on past a damaged line instead of stopping the import there.
 */
export function parseCacheFile(text: string): ParsedCacheFile {
  const partialLastLine = text.length > 0 && !text.endsWith("\n");
  const complete = partialLastLine ? text.slice(0, text.lastIndexOf("\n") + 1) : text;
  // Quoting is switched off (the writer never quotes), so every parsed row is exactly one line:
  // a stray `"` in a damaged line cannot swallow the lines after it. NUL, the stand-in quote
  // character, is replaced first so that it cannot start a quote either.
  const parsed = Papa.parse<string[]>(complete.replaceAll("\u0000", "\uFFFD"), {
    header: false,
    skipEmptyLines: false,
    newline: "\n",
    quoteChar: "\u0000",
  });
  const rows = parsed.data;
  // papaparse yields one empty row for the final "\n".
  if (rows.length > 0 && rows[rows.length - 1]!.length === 1 && rows[rows.length - 1]![0] === "") rows.pop();
  const headerOk = rows.length > 0 && rows[0]!.join(",") === CSV_HEADER;
  const bars: Bar[] = [];
  const lines: string[] = [];
  const badLines: number[] = [];
  const rawLines = complete.split("\n");
  for (let r = headerOk ? 1 : 0; r < rows.length; r++) {
    const bar = readLine(rows[r]!);
    if (bar) {
      bars.push(bar);
      lines.push(`${rawLines[r]}\n`);
    } else {
      badLines.push(r + 1);
    }
  }
  return { bars, lines, badLines, partialLastLine, headerOk };
}

function readLine(fields: string[]): Bar | undefined {
  if (fields.length !== 7) return undefined;
  const numbers: (number | null)[] = [];
  for (let f = 1; f < 7; f++) {
    const text = fields[f]!;
    if (text === "") numbers.push(null);
    else if (NUMBER.test(text)) numbers.push(Number(text));
    else return undefined;
  }
  const [open, high, low, close, volume, amount] = numbers as [number | null, number | null, number | null, number | null, number | null, number | null];
  const iso = fields[0]!;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(iso)) return undefined;
  try {
    // The same rules as every other entry point, the calendar check of the timestamp included.
    const batch = validateBars([{ timestamp: iso, open, high, low, close, volume, amount }], "UTC");
    return { timestamp: batch.timestamp[0]!, open, high, low, close, volume, amount };
  } catch (error) {
    if (error instanceof ValidationError) return undefined;
    throw error;
  }
}

/** Bars deduplicated by timestamp (the later one wins) and sorted ascending. */
export function latestByTimestamp(bars: readonly Bar[]): Bar[] {
  const byTimestamp = new Map<number, Bar>();
  let ascending = true;
  let previous = -Infinity;
  for (const bar of bars) {
    if (!(bar.timestamp > previous)) ascending = false;
    previous = bar.timestamp;
    byTimestamp.set(bar.timestamp, bar);
  }
  const unique = [...byTimestamp.values()];
  return ascending ? unique : unique.sort((a, b) => a.timestamp - b.timestamp);
}
