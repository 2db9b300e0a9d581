/**
 * `tradelite import <file.csv | folder>`: bar files into the database (or through the session
 * cache), streamed, in batches that each commit whole. See src/import/bar-file.ts for the
 * header spellings and value forms it reads.
 */
import { readdirSync, statSync, writeSync } from "node:fs";
import { basename, join } from "node:path";
import { assertTimeZone } from "../../src/domain/time.ts";
import { importBarFile, type BadRow } from "../../src/entries/import.ts";
import { isSymbol, StorageError, ValidationError } from "../../src/mod.ts";
import { assertCliSymbol, describeChoice, describeError, EXIT_FAILURE, EXIT_OK, formatNumber, openCliCache, openCliStore, parseOptions, printSummary, Progress, STORE_OPTIONS, STORE_USAGE, storeChoice, text, UsageError, type Command } from "./shared.ts";
import type { SessionCache } from "../../src/entries/cache.ts";

const USAGE = `usage: tradelite import <file.csv | folder> [options]

Streams CSV bar files into the database ($TRADELITE_DB, else ./data/trading.db), in batches
that each commit whole. A folder imports every *.csv file in it, one symbol per file.

options:
  --symbol S       the symbol (default: from the file name: 600519.SH.csv, sh600519.csv and
                   000001.SH-1min.csv give 600519.SH, sh600519 and 000001.SH)
  --timezone Z     the IANA zone of the FILE's naive times (default: the database's stored
                   zone; A-share exports: Asia/Shanghai). A database this import creates
                   stores this zone ($TRADELITE_TIMEZONE, else UTC, without it)
  --interval 1d    the file holds daily bars: store them as the symbol's daily series, beside
                   its minute bars (each row a date alone, or a time at local midnight);
                   without it every file's bars go to the bars as written (minutes)
  --cache          write through the session cache ($TRADELITE_CACHE_DIR) instead of directly
  --skip-bad       report bad rows and go on (default: stop at the first; the rows before it
                   are stored, nothing from it on)
  --batch N        rows per batch (default 10000)
  --cache-dir DIR  the session cache folder
  --json           the summary as one JSON object (bad rows still go to stderr)
${STORE_USAGE}
  -h, --help       this text

Headers read: date, datetime, time, timestamp, trade_date, open, high, low, close, vol/volume,
amount/turnover, and 日期 时间 开盘 最高 最低 收盘 成交量 成交额 (a separate date and time
column too). Exit codes: 0 all imported, 1 a bad row or a failure, 2 a usage mistake.`;

/**
 * The symbol a file name gives: an exchange code when the name starts with one and it ends
 * there or at - _ . or a space (600519.SH.csv, sh600519.csv, 000001.SH-1min.csv), else the
 * whole name before `.csv`. A name without `.csv`, or a hidden one, gives none.
 */
export function symbolFromFileName(path: string): string {
  const file = basename(path);
  const refuse = (why: string) => new UsageError(`cannot take a symbol from the file name ${JSON.stringify(file)} (${why}); give --symbol`);
  if (!/\.csv$/i.test(file)) throw refuse("it does not end in .csv");
  if (file.startsWith(".")) throw refuse("a hidden file");
  const name = file.slice(0, -4);
  const code = /^(?:[A-Za-z]{2})?\d{6}(?:\.[A-Za-z]{2,4})?(?=$|[-_. ])/.exec(name);
  const symbol = code ? code[0] : name;
  if (!isSymbol(symbol)) throw refuse("not a symbol");
  return symbol;
}

/** The files an import argument names: the file, or the folder's *.csv files in name order. */
function filesOf(target: string): string[] {
  let stat;
  try {
    stat = statSync(target);
  } catch {
    throw new UsageError(`no such file or folder: ${target}`);
  }
  if (!stat.isDirectory()) return [target];
  // Files only, not folders named *.csv; not hidden ones (._600519.SH.csv from macOS). Nested
  // folders are not walked.
  const files = readdirSync(target, { withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.csv$/i.test(entry.name) && !entry.name.startsWith("."))
    .map((entry) => entry.name)
    .sort()
    .map((name) => join(target, name));
  if (files.length === 0) throw new UsageError(`no .csv files in ${target}`);
  return files;
}

const OPTIONS = {
  symbol: { type: "string" },
  timezone: { type: "string" },
  interval: { type: "string" },
  cache: { type: "boolean" },
  "skip-bad": { type: "boolean" },
  batch: { type: "string" },
  "cache-dir": { type: "string" },
  json: { type: "boolean" },
  ...STORE_OPTIONS,
} as const;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, OPTIONS);
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "name a file or folder to import" : "import takes one file or folder");
  const files = filesOf(positionals[0]!);
  const symbolOption = text(values, "symbol");
  if (symbolOption !== undefined) assertCliSymbol(symbolOption, "--symbol ");
  if (symbolOption !== undefined && files.length > 1) throw new UsageError("--symbol names one symbol; a folder holds one file per symbol");
  const fileZoneOption = text(values, "timezone");
  if (fileZoneOption !== undefined) {
    try {
      assertTimeZone(fileZoneOption, "--timezone");
    } catch (error) {
      throw new UsageError((error as ValidationError).issues?.[0]?.message ?? String(error));
    }
  }
  const interval = text(values, "interval");
  if (interval !== undefined && interval !== "1d") {
    throw new UsageError(`--interval ${JSON.stringify(interval.slice(0, 20))}: the stored series are the bars as written (no --interval) and 1d`);
  }
  const daily = interval === "1d";
  if (daily && values.cache) throw new UsageError("--interval 1d writes the daily series; the session cache holds minute bars (leave out --cache)");
  const batchText = text(values, "batch") ?? "10000";
  if (!/^\d{1,7}$/.test(batchText) || Number(batchText) < 1) throw new UsageError(`--batch expects a whole number of rows, got ${JSON.stringify(batchText)}`);
  const symbols = files.map((file) => symbolOption ?? symbolFromFileName(file));
  // Two files of one symbol would overwrite each other's bars where their times meet.
  const firstFile = new Map<string, string>();
  symbols.forEach((symbol, i) => {
    const other = firstFile.get(symbol);
    if (other !== undefined) throw new UsageError(`${basename(other)} and ${basename(files[i]!)} both give the symbol ${symbol}; import them one at a time with --symbol`);
    firstFile.set(symbol, files[i]!);
  });

  // A file's zone is not the database's: the database keeps the zone it stores; one this import
  // creates takes the file's.
  const choice = storeChoice(values);
  const store = await openCliStore(choice, fileZoneOption === undefined ? {} : { initial: { timezone: fileZoneOption } });
  const timeZone = fileZoneOption ?? store.timezone;
  let cache: SessionCache | null = null;
  const started = performance.now();
  let failed = false;
  const totals = { files: 0, rows: 0, written: 0, batches: 0, bad: 0 };
  const location = describeChoice(choice);
  // Console lines for people; with --json they go to stderr and the summary alone to stdout.
  const say = values.json ? console.error : console.log;
  try {
    if (values.cache) cache = openCliCache(store, text(values, "cache-dir"));
    for (const [i, file] of files.entries()) {
      const symbol = symbols[i]!;
      const size = statSync(file).size;
      const progress = new Progress(`${basename(file)} -> ${symbol}`, size, " bytes");
      const reportBad = (bad: BadRow) => {
        progress.done();
        console.error(`${file}:${bad.line}: ${bad.reason}`);
      };
      let committed = 0;
      let writing = { first: 0, last: 0 };
      try {
        const summary = await importBarFile(Bun.file(file).stream(), {
          timeZone,
          ...(daily ? { interval: "1d" as const } : {}),
          batchRows: Number(batchText),
          skipBad: Boolean(values["skip-bad"]),
          onBadRow: reportBad,
          onProgress: (bytes) => progress.update(bytes),
          write: async (bars, lines) => {
            writing = lines;
            const written = cache
              ? (await cache.storeBars(symbol, bars)).written
              : await store.insertBars(symbol, bars, daily ? { interval: "1d" } : undefined);
            committed += written;
            // One line per committed batch, written at once (not buffered): what a crash test, or a
            // person watching a long import, can hold us to.
            if (process.env.TRADELITE_IMPORT_TRACE) writeSync(1, `committed ${symbol} lines ${lines.first}-${lines.last} rows ${written}\n`);
            return written;
          },
        });
        progress.done();
        totals.files++;
        totals.rows += summary.rows;
        totals.written += summary.written;
        totals.batches += summary.batches;
        totals.bad += summary.badRows;
        const ignored = summary.header?.ignored.length ? ` (ignored columns: ${summary.header.ignored.join(", ")})` : "";
        say(
          `${file}: ${formatNumber(summary.written)} ${daily ? "daily " : ""}bars written to ${symbol} in ${formatNumber(summary.batches)} batches, ${formatNumber(summary.badRows)} bad rows${ignored}`,
        );
        // A file of dates alone is most likely a daily file: say where its bars went, and how to
        // keep them apart from the symbol's minutes (not guessed: an earlier import of the same
        // file put them in the minutes, and a re-import must land in the same place).
        if (!daily && summary.header?.time.kind === "date" && summary.written > 0) {
          say(`${file}: every row is a date without a time; these went to ${symbol}'s bars as written. Daily bars belong in the daily series: import with --interval 1d`);
        }
        if (summary.stoppedAt) {
          console.error(
            `${file}: stopped at line ${summary.stoppedAt.line} (${summary.stoppedAt.reason}); the ${summary.written} rows before it are stored. ` +
              "Fix the row and run again (rows already stored are overwritten with the same values), or pass --skip-bad.",
          );
          failed = true;
          break;
        }
      } catch (error) {
        progress.done();
        failed = true;
        totals.written += committed;
        if (error instanceof ValidationError) {
          console.error(`${file}: ${error.message}`);
        } else {
          // A batch that could not be written (the database locked by another process, a full
          // disk): say which lines, what is stored, and stop with the summary.
          const busy = error instanceof StorageError && error.code.startsWith("SQLITE_BUSY");
          console.error(
            `${file}: lines ${writing.first}-${writing.last} were not written: ${describeError(error)}` +
              `${busy ? ` (another process holds the write lock on ${location})` : ""}; the ${formatNumber(committed)} rows before them are stored`,
          );
        }
        break;
      }
    }
  } finally {
    await store.close();
  }
  const seconds = (performance.now() - started) / 1000;
  if (values.json) {
    const target = cache ? { cache: cache.settings.dir, database: location } : { database: location };
    console.log(JSON.stringify({ ok: !failed, files: totals.files, of: files.length, rows: totals.rows, written: totals.written, batches: totals.batches, badRows: totals.bad, series: daily ? "1d" : "minutes", timezone: timeZone, ...target, seconds }));
    return failed ? EXIT_FAILURE : EXIT_OK;
  }
  printSummary(failed ? "import stopped" : "import done", [
    ["files", `${totals.files} of ${files.length}`],
    ["rows read", totals.rows],
    ["bars written", totals.written],
    ["batches", totals.batches],
    ["bad rows", `${totals.bad}${values["skip-bad"] ? " (skipped)" : ""}`],
    ["series", daily ? "1d (stored daily bars)" : "bars as written"],
    ["time zone", `${timeZone} (the file's naive times)${timeZone === store.timezone ? "" : `; the database stores ${store.timezone}`}`],
    ["target", cache ? `session cache ${cache.settings.dir} (and ${location})` : location],
    ["took", `${seconds.toFixed(1)} s (${Math.round(totals.written / Math.max(seconds, 0.001)).toLocaleString("en-US")} bars/s)`],
  ]);
  if (totals.bad > 0) console.log("  (each bad row is listed above, on stderr, as file:line: reason)");
  if (timeZone === "UTC" && fileZoneOption === undefined) {
    console.log("  (naive times were read as UTC, the database's zone; A-share exports are Asia/Shanghai: pass --timezone)");
  }
  return failed ? EXIT_FAILURE : EXIT_OK;
}

export const importCommand: Command = { name: "import", summary: "import CSV bar files (any size, common header spellings)", usage: USAGE, options: OPTIONS, run };
