/**
 * `tradelite export <symbol>`: bars out as CSV (the cache file's format) or NDJSON, streamed from
 * the database page by page. With --out the file appears only when the export is complete (it is
 * written beside it under a temporary name and renamed), so a failed export leaves no half file.
 */
import { renameSync, rmSync } from "node:fs";
import { dirname, basename, join } from "node:path";
import { CSV_HEADER_LINE, formatBarCsv, INTERVALS, isSymbol, type Bar, type BarQuery, type Interval } from "../../src/mod.ts";
import { EXIT_OK, openCliDatabase, parseOptions, printSummary, Progress, text, UsageError, type Command } from "./shared.ts";

const USAGE = `usage: tradelite export <symbol> [options]

Writes the symbol's bars to stdout (or --out) as CSV (timestamp,open,high,low,close,volume,amount,
timestamps ISO-8601 UTC) or NDJSON (one JSON bar per line, epoch ms), streamed.

options:
  --start T, --end T   inclusive range (epoch ms, ISO-8601, or YYYY-MM-DD[ HH:MM[:SS]] in --timezone)
  --interval I         resample: ${INTERVALS.join(", ")}
  --format F           csv (default) or ndjson
  --out FILE           write FILE (complete or not at all) instead of stdout
  --timezone Z         zone for naive times and day buckets (default $TRADELITE_TIMEZONE, else UTC)
  --db PATH            the database file
  -h, --help           this text`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, {
    start: { type: "string" },
    end: { type: "string" },
    interval: { type: "string" },
    format: { type: "string" },
    out: { type: "string" },
    timezone: { type: "string" },
    db: { type: "string" },
  });
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError("name one symbol to export");
  const symbol = positionals[0]!;
  if (!isSymbol(symbol)) throw new UsageError(`${JSON.stringify(String(symbol).slice(0, 70))} is not a symbol`);
  const format = text(values, "format") ?? "csv";
  if (format !== "csv" && format !== "ndjson") throw new UsageError(`--format is csv or ndjson, got ${JSON.stringify(format)}`);
  const interval = text(values, "interval");
  if (interval !== undefined && !(INTERVALS as readonly string[]).includes(interval)) throw new UsageError(`--interval is one of ${INTERVALS.join(", ")}`);
  const query: BarQuery = {};
  const start = text(values, "start");
  const end = text(values, "end");
  // Digits alone are epoch ms; anything else goes to the store as text, which reads or refuses it.
  if (start !== undefined) query.start = /^-?\d+$/.test(start) ? Number(start) : start;
  if (end !== undefined) query.end = /^-?\d+$/.test(end) ? Number(end) : end;
  if (interval !== undefined) query.interval = interval as Interval;

  const db = openCliDatabase(text(values, "db"), { timezone: text(values, "timezone") ?? (process.env.TRADELITE_TIMEZONE || undefined) });
  const out = text(values, "out");
  const partial = out === undefined ? null : join(dirname(out), `.${basename(out)}.partial-${process.pid}`);
  const sink = partial === null ? Bun.stdout.writer() : Bun.file(partial).writer();
  const progress = out === undefined ? null : new Progress(`export ${symbol}`, null, " bars");
  let rows = 0;
  const started = performance.now();
  try {
    const format1 = format === "csv" ? formatBarCsv : (bar: Bar) => `${JSON.stringify(bar)}\n`;
    // The first bar is read before anything is written, so a bad range writes nothing at all.
    const bars = db.iterateBars(symbol, query);
    const first = bars.next();
    if (format === "csv") sink.write(CSV_HEADER_LINE);
    let chunk = "";
    for (let next = first; !next.done; next = bars.next()) {
      chunk += format1(next.value);
      if (++rows % 4_096 === 0) {
        sink.write(chunk);
        chunk = "";
        await sink.flush();
        progress?.update(rows);
      }
    }
    sink.write(chunk);
    await sink.end();
    if (partial !== null) renameSync(partial, out!);
  } catch (error) {
    if (partial !== null) {
      await Promise.resolve(sink.end()).catch(() => {});
      rmSync(partial, { force: true });
    }
    throw error;
  } finally {
    progress?.done();
    db.close();
  }
  if (out !== undefined) {
    const seconds = (performance.now() - started) / 1000;
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

export const exportCommand: Command = { name: "export", summary: "export a symbol's bars as CSV or NDJSON (streamed)", usage: USAGE, run };
