/**
 * `tradelite export <symbol>`: bars out as CSV (the cache file's format), NDJSON, Parquet or Arrow
 * (Feather v2), streamed from the database page by page (Parquet and Arrow a row group at a
 * time). With --out the file appears only when the export is complete (it is written beside it
 * under a temporary name and renamed), so a failed export leaves no half file.
 */
import { renameSync, rmSync, writeSync } from "node:fs";
import { dirname, basename, join } from "node:path";
import { ALIGNS, FILLS, INTERVALS, ValidationError, type Align, type Bar, type BarQuery, type Fill, type Interval } from "../../src/mod.ts";
import { CSV_HEADER_LINE, formatBarCsvIn } from "../../src/domain/bar-format.ts";
import { columnarBarWriter } from "../../src/domain/bar-columnar.ts";
import { ADJUST_OPTIONS, ADJUST_USAGE, adjustOptions, assertCliSymbol, assertSymbolStored, EXIT_OK, openCliStore, parseOptions, printSummary, Progress, STORE_OPTIONS, STORE_USAGE, storeChoice, text, UsageError, type Command } from "./shared.ts";

const USAGE = `usage: tradelite export <symbol> [options]

Writes the symbol's bars to stdout (or --out) as CSV (timestamp,open,high,low,close,volume,amount,
timestamps ISO-8601 in the database's zone with the offset: 2024-01-15T09:31:00+08:00), NDJSON
(one JSON bar per line, epoch ms), Parquet or Arrow (the IPC file format, Feather v2: timestamp a
UTC timestamp in ms, the other columns nullable float64), streamed. The zone, the bar stamping
and day buckets are the ones the database stores (tradelite settings).

options:
  --start T, --end T   inclusive range: epoch ms (digits), a date alone (YYYY-MM-DD or YYYYMMDD:
                       a day in the database's zone; as --end the whole day), ISO-8601, or
                       YYYY-MM-DD HH:MM[:SS] in the database's zone
  --interval I         resample: ${INTERVALS.join(", ")}
  --align A            clock (default) or session: buckets on the symbol's exchange calendar
  --fill F             none (default) or previous: missing bars of the calendar's grid at the
                       previous close with zero volume (NDJSON marks them "filled": true)
${ADJUST_USAGE}
  --format F           csv (default), ndjson, parquet (ZSTD, a row group per 65,536 bars) or arrow
  --utc                CSV times in UTC (2024-01-15T01:31:00.000Z), as cache files carry them
  --out FILE           write FILE (complete or not at all) instead of stdout
  --json               the summary as one JSON object (on stdout with --out, else on stderr)
${STORE_USAGE}
  -h, --help           this text

A symbol with no bars at all is exit 1 (naming the stored symbol it differs from only in case,
if there is one); a range without bars of a stored symbol is an empty export, exit 0.`;

const EXPORT_FORMATS = ["csv", "ndjson", "parquet", "arrow"] as const;

const OPTIONS = {
  start: { type: "string" },
  end: { type: "string" },
  interval: { type: "string" },
  align: { type: "string" },
  fill: { type: "string" },
  ...ADJUST_OPTIONS,
  format: { type: "string" },
  out: { type: "string" },
  utc: { type: "boolean" },
  json: { type: "boolean" },
  ...STORE_OPTIONS,
} as const;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, OPTIONS);
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError("name one symbol to export");
  const symbol = positionals[0]!;
  assertCliSymbol(symbol);
  const format = text(values, "format") ?? "csv";
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format is ${EXPORT_FORMATS.join(", ")}, got ${JSON.stringify(format)}`);
  // A binary file sent to a terminal is noise on the screen and a terminal left in a bad state.
  if ((format === "parquet" || format === "arrow") && values.out === undefined && process.stdout.isTTY) {
    throw new UsageError(`--format ${format} is a binary file: give --out FILE, or send stdout to a file or a pipe`);
  }
  const interval = text(values, "interval");
  if (interval !== undefined && !(INTERVALS as readonly string[]).includes(interval)) throw new UsageError(`--interval is one of ${INTERVALS.join(", ")}`);
  const query: BarQuery = {};
  const start = text(values, "start");
  const end = text(values, "end");
  // As given: the store reads every bound by the one date rule (toRangeBound).
  if (start !== undefined) query.start = start;
  if (end !== undefined) query.end = end;
  if (interval !== undefined) query.interval = interval as Interval;
  const align = text(values, "align");
  if (align !== undefined && !(ALIGNS as readonly string[]).includes(align)) throw new UsageError(`--align is ${ALIGNS.join(" or ")}`);
  if (align !== undefined) query.align = align as Align;
  const fill = text(values, "fill");
  if (fill !== undefined && !(FILLS as readonly string[]).includes(fill)) throw new UsageError(`--fill is ${FILLS.join(" or ")}`);
  if (fill !== undefined) query.fill = fill as Fill;
  Object.assign(query, adjustOptions(values));

  const store = await openCliStore(storeChoice(values), { existing: true, readonly: true });
  const out = text(values, "out");
  const partial = out === undefined ? null : join(dirname(out), `.${basename(out)}.partial-${process.pid}`);
  const file = partial === null ? null : Bun.file(partial).writer();
  // Stdout is written synchronously: a reader that goes away (| head) is an EPIPE here, caught,
  // and the export simply stops.
  let pipeClosed = false;
  const write = async (chunk: string | Uint8Array): Promise<void> => {
    if (file) {
      file.write(chunk);
      await file.flush();
      return;
    }
    try {
      if (typeof chunk === "string") writeSync(1, chunk);
      else await writeAll(chunk);
    } catch (error) {
      if ((error as { code?: string }).code !== "EPIPE") throw error;
      pipeClosed = true;
    }
  };
  // Interrupted, the export stops at its next chunk and its temporary file goes (after the
  // writer is closed, so nothing is written to it afterwards): --out is whole or absent.
  let interruptedBy: NodeJS.Signals | null = null;
  const interrupted = (signal: NodeJS.Signals) => {
    interruptedBy = signal;
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  const progress = out === undefined ? null : new Progress(`export ${symbol}`, null, " bars");
  let rows = 0;
  const started = performance.now();
  try {
    const format1 = format === "csv" ? formatBarCsvIn(values.utc ? null : store.timezone) : (bar: Bar) => `${JSON.stringify(bar)}\n`;
    const columnar = format === "parquet" || format === "arrow" ? columnarBarWriter(format) : null;
    // The first bar is read before anything is written, so a bad range or an unknown symbol
    // writes nothing at all.
    let bars: AsyncIterator<Bar>;
    let first: IteratorResult<Bar>;
    try {
      bars = store.iterateBars(symbol, query)[Symbol.asyncIterator]();
      first = await bars.next();
    } catch (error) {
      if (error instanceof ValidationError) throw new UsageError(error.message);
      throw error;
    }
    if (first.done) await assertSymbolStored(store, symbol);
    if (format === "csv") await write(CSV_HEADER_LINE);
    let chunk = "";
    for (let next = first; !next.done && !pipeClosed; next = await bars.next()) {
      if (columnar !== null) {
        const group = columnar.add(next.value);
        if (group !== null) await write(group);
      } else chunk += format1(next.value);
      if (++rows % 4_096 === 0) {
        if (chunk !== "") await write(chunk);
        chunk = "";
        progress?.update(rows);
        // A turn of the event loop between chunks, so a signal (Ctrl-C) is handled mid-export.
        await new Promise((resolve) => setImmediate(resolve));
        if (interruptedBy !== null) throw new Interrupted(interruptedBy);
      }
    }
    if (!pipeClosed) await write(columnar?.finish() ?? chunk);
    await bars.return?.(undefined);
    if (file) await file.end();
    if (partial !== null) renameSync(partial, out!);
  } catch (error) {
    if (partial !== null) {
      await Promise.resolve(file?.end()).catch(() => {});
      rmSync(partial, { force: true });
    }
    if (error instanceof Interrupted) process.exit(error.signal === "SIGINT" ? 130 : 143);
    throw error;
  } finally {
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
    progress?.done();
    await store.close();
  }
  if (pipeClosed) return EXIT_OK;
  const seconds = (performance.now() - started) / 1000;
  if (values.json) {
    const summary = JSON.stringify({ symbol, bars: rows, format, interval: interval ?? null, file: out ?? null, seconds });
    if (out !== undefined) console.log(summary);
    else console.error(summary);
  } else if (out !== undefined) {
    printSummary("export done", [
      ["symbol", symbol],
      ["bars", rows],
      ["format", `${format}${interval ? `, resampled to ${interval}` : ""}`],
      ["file", out],
      ["took", `${seconds.toFixed(1)} s`],
    ]);
  } else {
    console.error(`exported ${rows.toLocaleString("en-US")} bars of ${symbol}`);
  }
  return EXIT_OK;
}

/**
 * A row group to stdout, whole. Bun's stdout pipe is non-blocking: a buffer is taken in parts
 * and a full pipe answers EAGAIN, so this waits for the reader and goes on (a string write
 * retries by itself; a buffer write does not, measured with a slow reader: exit 1 at 219 KB).
 */
async function writeAll(bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length; ) {
    try {
      at += writeSync(1, bytes, at);
    } catch (error) {
      if ((error as { code?: string }).code !== "EAGAIN") throw error;
      await Bun.sleep(1);
    }
  }
}

/** Thrown inside the export loop when a signal asked it to stop. */
class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}

export const exportCommand: Command = { name: "export", summary: "export a symbol's bars as CSV, NDJSON, Parquet or Arrow (streamed)", usage: USAGE, options: OPTIONS, run };
