/**
 * Bar files as users bring them: CSV exported by data vendors, terminals and A-share tools,
 * streamed (papaparse over pieces of the byte stream, never the whole text) into batches of
 * columns that the caller writes, each batch in one transaction.
 *
 * The header decides what is read, by spelling (case and surrounding space ignored):
 *   time     `datetime`, `timestamp` (a full date and time), or `date` / `trade_date` / 日期 with
 *            `time` / 时间 (a time of day), or `time` alone (a full date and time), or a date
 *            alone (daily bars, stamped at local midnight)
 *   prices   `open` 开盘, `high` 最高, `low` 最低, `close` 收盘 (also 开盘价 ...)
 *   sizes    `volume` / `vol` 成交量, `amount` / `turnover` 成交额 (optional)
 * A spelling seen twice (TDX writes `datetime` twice) is read from its first column; when two
 * spellings of one field are present (`volume` and `vol`), the first in the list above is read.
 * Other columns are ignored, and named as such in the summary.
 *
 * Values: dates `YYYY-MM-DD`, `YYYY/MM/DD` or `YYYYMMDD`; times `H:MM[:SS]` or `HHMM[SS]`;
 * full timestamps as ISO-8601 with an offset, naive `YYYY-MM-DD H:MM[:SS]` (any of the date
 * forms), `YYYYMMDDHHMM[SS]`, or 13-digit epoch milliseconds. Naive times are read in
 * `timeZone`. Numbers are plain decimals; an empty cell is NULL. A record is one line (a quoted
 * field may hold a comma, not a line break); LF and CRLF may mix. A time seen twice is a bad row
 * (within two batches of each other; farther apart, in an unsorted file, the later row wins as
 * an upsert). Anything else is a bad row too, reported with its line number (the header is line
 * 1) and the reason: nothing is guessed, rounded or coerced.
 */
import Papa from "papaparse";
import { validateBars, type BarColumns, type BarValueField } from "../domain/bar.ts";
import { ValidationError } from "../domain/errors.ts";
import { TimestampError, toEpochMs } from "../domain/time.ts";
import { dailyStampIssues, type StoredInterval } from "../domain/daily.ts";
import type { Issue } from "../domain/errors.ts";

const SPELLINGS = {
  datetime: ["datetime", "timestamp"],
  date: ["date", "trade_date", "日期"],
  time: ["time", "时间"],
  open: ["open", "开盘", "开盘价"],
  high: ["high", "最高", "最高价"],
  low: ["low", "最低", "最低价"],
  close: ["close", "收盘", "收盘价"],
  volume: ["volume", "vol", "成交量"],
  amount: ["amount", "turnover", "成交额"],
} as const;
type Role = keyof typeof SPELLINGS;

export type TimeColumns =
  | { kind: "datetime"; column: number }
  | { kind: "date-time"; date: number; time: number }
  | { kind: "date"; column: number };

/** Which column holds what, as read from a header. */
export interface HeaderMap {
  fields: number;
  time: TimeColumns;
  values: Record<BarValueField, number | null>;
  /** Header names read for nothing. */
  ignored: string[];
}

/** A file whose header or bytes cannot be read at all (not a row's fault). */
export class BarFileError extends ValidationError {
  constructor(message: string, line?: number) {
    super([{ ...(line === undefined ? {} : { row: line }), field: "file", message }], message);
  }
}

/** Reads a header row into a HeaderMap, or throws a BarFileError naming what is missing. */
export function mapHeader(names: readonly string[]): HeaderMap {
  const normal = names.map((name, i) => (i === 0 ? name.replace(/^\uFEFF/, "") : name).trim().toLowerCase());
  const used = new Set<number>();
  const find = (role: Role): number | null => {
    for (const spelling of SPELLINGS[role]) {
      const index = normal.indexOf(spelling);
      if (index >= 0) {
        used.add(index);
        return index;
      }
    }
    return null;
  };
  const datetime = find("datetime");
  const date = find("date");
  const time = find("time");
  let timeColumns: TimeColumns;
  if (datetime !== null) timeColumns = { kind: "datetime", column: datetime };
  else if (date !== null && time !== null) timeColumns = { kind: "date-time", date, time };
  else if (time !== null) timeColumns = { kind: "datetime", column: time };
  else if (date !== null) timeColumns = { kind: "date", column: date };
  else throw new BarFileError(`the header has no time column (one of datetime, timestamp, date, trade_date, time, 日期, 时间); it has ${describeNames(names)}`, 1);
  // A date or time column the chosen reading does not use is not silently ignored either way:
  // `datetime` wins over `date` + `time`, and the summary names the unused ones.
  if (timeColumns.kind === "datetime") {
    if (date !== null) used.delete(date);
    if (time !== null && timeColumns.column !== time) used.delete(time);
  }
  const values = {} as Record<BarValueField, number | null>;
  const missing: string[] = [];
  for (const role of ["open", "high", "low", "close", "volume", "amount"] as const) {
    values[role] = find(role);
    if (values[role] === null && role !== "volume" && role !== "amount") missing.push(SPELLINGS[role].join("/"));
  }
  if (missing.length > 0) throw new BarFileError(`the header has no ${missing.join(", ")} column; it has ${describeNames(names)}`, 1);
  const ignored = names.filter((_, i) => !used.has(i)).map((name) => name.trim());
  return { fields: names.length, time: timeColumns, values, ignored };
}

function describeNames(names: readonly string[]): string {
  const shown = names.slice(0, 20).map((name) => JSON.stringify(name.slice(0, 30)));
  return `${shown.join(", ")}${names.length > 20 ? ", ..." : ""}`;
}

const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;
const DATE = /^(\d{4})(?:-(\d{2})-(\d{2})|\/(\d{2})\/(\d{2})|(\d{2})(\d{2}))$/;
const TIME = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$|^(\d{2})(\d{2})(\d{2})?$/;
const EPOCH_MS = /^\d{13}$/;
/** `YYYYMMDDHHMM[SS]`, as some terminals write a bar's time in one column. */
const COMPACT_DATETIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?$/;

/** `YYYY-MM-DD`, `YYYY/MM/DD` or `YYYYMMDD` as `YYYY-MM-DD`; null when none of them. */
function isoDate(text: string): string | null {
  const m = DATE.exec(text);
  if (!m) return null;
  return `${m[1]}-${m[2] ?? m[4] ?? m[6]}-${m[3] ?? m[5] ?? m[7]}`;
}

/** `H:MM[:SS]` or `HHMM[SS]` as `HH:MM:SS`; null when neither. */
function isoTime(text: string): string | null {
  const m = TIME.exec(text);
  if (!m) return null;
  const hours = (m[1] ?? m[4])!.padStart(2, "0");
  return `${hours}:${m[2] ?? m[5]}:${m[3] ?? m[6] ?? "00"}`;
}

/** One row's timestamp, or throws a TimestampError saying why not. */
function readTime(fields: readonly string[], time: TimeColumns, timeZone: string): number {
  if (time.kind === "date-time") {
    const dateText = fields[time.date]!.trim();
    const timeText = fields[time.time]!.trim();
    const date = isoDate(dateText);
    if (date === null) throw new TimestampError(`not a date: ${JSON.stringify(dateText.slice(0, 40))} (expected YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD)`);
    const clock = isoTime(timeText);
    if (clock === null) throw new TimestampError(`not a time of day: ${JSON.stringify(timeText.slice(0, 40))} (expected HH:MM[:SS] or HHMM[SS])`);
    return toEpochMs(`${date} ${clock}`, timeZone);
  }
  const text = fields[time.column]!.trim();
  if (time.kind === "date") {
    const date = isoDate(text);
    if (date === null) throw new TimestampError(`not a date: ${JSON.stringify(text.slice(0, 40))} (expected YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD)`);
    return toEpochMs(date, timeZone);
  }
  if (EPOCH_MS.test(text)) return toEpochMs(Number(text), timeZone);
  const compact = COMPACT_DATETIME.exec(text);
  if (compact) return toEpochMs(`${compact[1]}-${compact[2]}-${compact[3]} ${compact[4]}:${compact[5]}:${compact[6] ?? "00"}`, timeZone);
  // A date in one of the accepted forms and a time of day (H:MM allowed), or the text as the
  // domain reads it (ISO-8601 with an offset, fractions of a second).
  const split = /^(\S+) (\S+)$/.exec(text);
  const date = split ? isoDate(split[1]!) : null;
  const clock = split ? isoTime(split[2]!) : null;
  if (date !== null && clock !== null) return toEpochMs(`${date} ${clock}`, timeZone);
  const iso = /^(\S+)([ T].*)$/.exec(text);
  const isoDay = iso ? isoDate(iso[1]!) : null;
  return toEpochMs(isoDay === null ? text : `${isoDay}${iso![2]}`, timeZone);
}

/** A row the import could not take: its line in the file (the header is line 1) and why. */
export interface BadRow {
  line: number;
  reason: string;
}

export interface BarFileOptions {
  /** IANA zone that naive times are read in. */
  timeZone: string;
  /**
   * `1d`: the file holds daily bars for the stored daily series, so every row's time must be a
   * local midnight in `timeZone` (a date alone is); another time is a bad row. Omitted: any time.
   */
  interval?: StoredInterval;
  /** Rows per written batch. Default 10,000 (larger batches cost memory and gain no speed: measured 215k rows/s either way). */
  batchRows?: number;
  /** Report bad rows and go on (true), or stop at the first (false, the default). */
  skipBad?: boolean;
  /** Writes one batch in one transaction; resolves with the rows written. */
  write(bars: BarColumns, lines: { first: number; last: number }): Promise<number>;
  /** Each bad row, as it is found (skipped or the one that stopped the import). */
  onBadRow?(bad: BadRow): void;
  /** Bytes read so far, after each piece. */
  onProgress?(bytes: number): void;
}

export interface BarFileSummary {
  /** Data rows read (blank lines not counted). */
  rows: number;
  /** Rows written, as the writes reported them. */
  written: number;
  batches: number;
  /** Bad rows seen (with skipBad, all of them; without, the one that stopped the import). */
  badRows: number;
  /** The row that stopped the import (without skipBad), or null. */
  stoppedAt: BadRow | null;
  header: HeaderMap | null;
  bytes: number;
}

/** Text handed to papaparse at a time. */
const PIECE_CHARS = 256 * 1024;

/**
 * Reads a bar file from `stream` and writes it in batches through `options.write`. Without
 * skipBad, the first bad row stops the import: every row before it is written (in batches, each
 * atomic), nothing from it on. With skipBad, bad rows are reported and left out.
 */
export async function importBarFile(stream: ReadableStream<Uint8Array>, options: BarFileOptions): Promise<BarFileSummary> {
  const batchRows = options.batchRows ?? 10_000;
  const summary: BarFileSummary = { rows: 0, written: 0, batches: 0, badRows: 0, stoppedAt: null, header: null, bytes: 0 };
  let header: HeaderMap | null = null;
  let line = 1; // the line the next record starts on
  let batch = new BatchBuilder();
  let stop = false;
  // The line of each time in this batch and the one before: a time seen twice in a file is a
  // bad row, not a silent overwrite (a wrong column read, or an hour repeated when clocks go
  // back). Two batches' worth are kept, which catches every repeat in a file sorted either way.
  let seen = new Map<number, number>();
  let seenBefore = new Map<number, number>();

  const bad = (row: BadRow): void => {
    summary.badRows++;
    options.onBadRow?.(row);
    if (!options.skipBad) {
      summary.stoppedAt = row;
      stop = true;
    }
  };

  const flush = async (): Promise<void> => {
    seenBefore = seen;
    seen = new Map();
    if (batch.length === 0) return;
    const built = batch;
    batch = new BatchBuilder();
    let { columns, lines } = built.result();
    // The bar rules (high >= low, no negative volume ...) over the whole batch at once, and for
    // a daily file the midnight rule, so a bad row of either kind is reported by its line.
    const issues: Issue[] = [];
    try {
      validateBars(columns, options.timeZone);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      issues.push(...error.issues);
    }
    if (options.interval === "1d") issues.push(...dailyStampIssues(columns.timestamp as ArrayLike<number>, options.timeZone));
    if (issues.length > 0) {
      const badAt = new Map<number, string>();
      for (const issue of issues) {
        if (issue.row === undefined || badAt.has(issue.row)) continue;
        badAt.set(issue.row, `${issue.field ?? "bar"}: ${issue.message}`);
      }
      const rows = [...badAt.keys()].sort((a, b) => a - b);
      const keep = options.skipBad ? lines.map((_, i) => !badAt.has(i)) : lines.map((_, i) => i < rows[0]!);
      for (const row of options.skipBad ? rows : rows.slice(0, 1)) bad({ line: lines[row]!, reason: badAt.get(row)! });
      ({ columns, lines } = built.result(keep));
    }
    if (lines.length === 0) return;
    summary.written += await options.write(columns, { first: lines[0]!, last: lines[lines.length - 1]! });
    summary.batches++;
  };

  // A row refused while reading. Without skipBad it stops the import, but the rows before it in
  // the batch are checked against the bar rules first: one of them may be the first bad row.
  const reject = async (row: BadRow): Promise<void> => {
    if (!options.skipBad) {
      await flush();
      if (stop) return;
    }
    bad(row);
  };

  const readRecords = async (records: string[][]): Promise<void> => {
    for (let r = 0; r < records.length && !stop; r++) {
      const fields = records[r]!;
      const at = line++;
      if (fields.length === 1 && fields[0]!.trim() === "") continue; // a blank line
      if (header === null) {
        header = mapHeader(fields);
        summary.header = header;
        continue;
      }
      summary.rows++;
      if (fields.length !== header.fields) {
        await reject({ line: at, reason: `${fields.length} fields; the header has ${header.fields}` });
        continue;
      }
      let timestamp: number;
      try {
        timestamp = readTime(fields, header.time, options.timeZone);
      } catch (error) {
        if (!(error instanceof TimestampError)) throw error;
        await reject({ line: at, reason: `time: ${error.reason}` });
        continue;
      }
      let reason: string | null = null;
      const values = new Array<number | null>(6);
      VALUE_FIELDS.forEach((field, i) => {
        const column = header!.values[field];
        const text = column === null ? "" : fields[column]!.trim();
        if (text === "") values[i] = null;
        else if (NUMBER.test(text)) values[i] = Number(text);
        else reason ??= `${field}: not a number: ${JSON.stringify(text.slice(0, 40))}`;
      });
      if (reason !== null) {
        await reject({ line: at, reason });
        continue;
      }
      const earlier = seen.get(timestamp) ?? seenBefore.get(timestamp);
      if (earlier !== undefined) {
        await reject({ line: at, reason: `time: ${new Date(timestamp).toISOString()} again (line ${earlier} has it); a time may appear once` });
        continue;
      }
      seen.set(timestamp, at);
      batch.push(timestamp, values, at);
      if (batch.length >= batchRows) await flush();
    }
  };

  /**
   * Complete lines of text (each ending "\n"), parsed with papaparse. A record is one line: a
   * quote may hold a comma but not a line break, so a broken quote spoils its own line only.
   * When papaparse reports one, the lines are parsed one by one to find it.
   */
  const parseLines = async (text: string): Promise<void> => {
    if (text === "" || stop) return;
    // A piece longer than any line may be holds an overlong line: read line by line to find it.
    if (text.length <= MAX_LINE_CHARS) {
      const parsed = Papa.parse<string[]>(text, { header: false, delimiter: ",", newline: "\n", skipEmptyLines: false, quoteChar: '"' });
      const records = parsed.data;
      if (records.length > 0 && text.endsWith("\n")) records.pop(); // the empty record after the last "\n"
      if (parsed.errors.length === 0 && records.length === countLines(text)) {
        await readRecords(records.map(withoutCarriageReturn));
        return;
      }
    }
    for (const lineText of text.slice(0, -1).split("\n")) {
      if (stop) return;
      if (lineText.length > MAX_LINE_CHARS) {
        if (header === null) throw new BarFileError(`the first line runs past ${MAX_LINE_CHARS} characters: not a CSV header`, 1);
        summary.rows++;
        await reject({ line, reason: `the line runs past ${MAX_LINE_CHARS} characters` });
        line++;
        continue;
      }
      const one = Papa.parse<string[]>(lineText, { header: false, delimiter: ",", newline: "\n", skipEmptyLines: false, quoteChar: '"' });
      if (one.errors.length === 0 && one.data.length === 1) {
        await readRecords([withoutCarriageReturn(one.data[0]!)]);
        continue;
      }
      if (header === null) throw new BarFileError(`the header cannot be read: ${one.errors[0]?.message ?? "not one CSV record"}`, 1);
      summary.rows++;
      await reject({ line, reason: `CSV: ${one.errors[0]?.message ?? "not one CSV record"}` });
      line++;
    }
  };

  const decoder = new TextDecoder("utf-8", { fatal: true });
  let carry = "";
  /** Set while the rest of an overlong line is being skipped. */
  let skippingLongLine = false;
  /** Takes decoded text; parses the complete lines in it, keeps the unfinished last one. */
  const take = async (text: string): Promise<void> => {
    let from = 0;
    if (skippingLongLine) {
      const end = text.indexOf("\n");
      if (end < 0) return;
      skippingLongLine = false;
      line++;
      from = end + 1;
    }
    const lastNewline = text.lastIndexOf("\n");
    if (lastNewline < from) {
      carry += text.slice(from);
    } else {
      const complete = carry + text.slice(from, lastNewline + 1);
      carry = text.slice(lastNewline + 1);
      for (let at = 0; at < complete.length && !stop; ) {
        const cut = complete.lastIndexOf("\n", at + PIECE_CHARS);
        const end = cut >= at ? cut + 1 : complete.indexOf("\n", at) + 1;
        await parseLines(complete.slice(at, end));
        at = end;
      }
    }
    if (carry.length > MAX_LINE_CHARS && !stop) {
      // One line longer than any bar file's: a bad row, skipped to its end, never buffered whole.
      if (header === null) throw new BarFileError(`the first line runs past ${MAX_LINE_CHARS} characters: not a CSV header`, 1);
      summary.rows++;
      await reject({ line, reason: `the line runs past ${MAX_LINE_CHARS} characters` });
      carry = "";
      skippingLongLine = true;
    }
  };

  /** Stops on something wrong with the file itself; the rows read before it are written first. */
  const fileError = async (message: string): Promise<never> => {
    if (!stop) await flush();
    throw new BarFileError(message, line);
  };

  const reader = stream.getReader();
  try {
    let first = true;
    while (!stop) {
      const chunk = await reader.read();
      if (chunk.done) break;
      let text: string;
      try {
        text = decoder.decode(chunk.value, { stream: true });
      } catch {
        // Read the lines before the first byte that is not UTF-8, then stop there.
        try {
          const prefix = decoder.decode(chunk.value.subarray(0, validUtf8Prefix(chunk.value)), { stream: true });
          await take(first && prefix.charCodeAt(0) === 0xfeff ? prefix.slice(1) : prefix);
        } catch {
          // A character cut between two chunks: report from the lines read so far.
        }
        await fileError(`the file is not UTF-8 text (line ${line}); convert it first (GBK exports: iconv -f GBK -t UTF-8)`);
      }
      summary.bytes += chunk.value.byteLength;
      if (first && text!.length > 0) {
        if (text!.charCodeAt(0) === 0xfeff) text = text!.slice(1);
        first = false;
      }
      await take(text!);
      options.onProgress?.(summary.bytes);
    }
    if (!stop) {
      let rest = "";
      try {
        rest = decoder.decode();
      } catch {
        await fileError("the file ends inside a UTF-8 character");
      }
      await take(rest);
      if (!skippingLongLine && carry !== "" && !stop) await parseLines(`${carry}\n`); // a last line without "\n"
      carry = "";
    }
    if (!stop) await flush();
  } finally {
    await reader.cancel().catch(() => {});
  }
  if (header === null) throw new BarFileError("the file is empty: no header row");
  return summary;
}

/** The length of the longest prefix of `bytes` that is well-formed UTF-8. */
export function validUtf8Prefix(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const byte = bytes[i]!;
    const length = byte < 0x80 ? 1 : byte >= 0xc2 && byte <= 0xdf ? 2 : byte >= 0xe0 && byte <= 0xef ? 3 : byte >= 0xf0 && byte <= 0xf4 ? 4 : 0;
    if (length === 0 || i + length > bytes.length) return i;
    for (let k = 1; k < length; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return i;
    i += length;
  }
  return i;
}

/** The longest line read (a bar's line is under 200 characters). */
export const MAX_LINE_CHARS = 1024 * 1024;

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/** A record of a CRLF line, without the CR papaparse left on its last field. */
function withoutCarriageReturn(fields: string[]): string[] {
  const last = fields.length - 1;
  if (fields[last]!.endsWith("\r")) fields[last] = fields[last]!.slice(0, -1);
  return fields;
}

const VALUE_FIELDS = ["open", "high", "low", "close", "volume", "amount"] as const;

/** Rows of one batch as columns, with the file line of each row. */
class BatchBuilder {
  length = 0;
  readonly timestamps: number[] = [];
  readonly values: (number | null)[][] = VALUE_FIELDS.map(() => []);
  readonly lines: number[] = [];

  push(timestamp: number, values: readonly (number | null)[], line: number): void {
    this.timestamps.push(timestamp);
    for (let i = 0; i < VALUE_FIELDS.length; i++) this.values[i]!.push(values[i]!);
    this.lines.push(line);
    this.length++;
  }

  /** The batch as BarColumns (only the rows `keep` marks, when given). */
  result(keep?: readonly boolean[]): { columns: BarColumns; lines: number[] } {
    const pick = <T>(items: T[]): T[] => (keep ? items.filter((_, i) => keep[i]) : items);
    const columns: BarColumns = { timestamp: Float64Array.from(pick(this.timestamps)) };
    VALUE_FIELDS.forEach((field, i) => {
      columns[field] = pick(this.values[i]!);
    });
    return { columns, lines: pick(this.lines) };
  }
}
