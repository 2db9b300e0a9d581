/**
 * `tradelite import <file | folder>`: bar files into the database (or through the session
 * cache), streamed, in batches that each commit whole. See src/import/bar-file.ts for the CSV
 * header spellings and value forms it reads, src/import/tdx-binary.ts for TDX's binary files,
 * src/import/parquet.ts for Parquet, src/import/arrow.ts for Arrow.
 */
import { existsSync, readdirSync, statSync, writeSync } from "node:fs";
import { basename, join } from "node:path";
import { assertTimeZone, formatIsoLocal } from "../../src/domain/time.ts";
import {
  AMOUNT_UNITS, BarFileError, ENCODINGS, importArrowFile, importBarFile, importParquetFile, importTdxFile, PROFILE_NAMES, tdxFileName, tdxSymbol, VOLUME_UNITS,
  type AmountUnit, type BadRecord, type BadRow, type BarFileSummary, type Encoding, type ProfileName, type TdxFileName, type VolumeUnit,
} from "../../src/entries/import.ts";
import { isSymbol, StorageError, ValidationError, type BarColumns, type SettingsRequest } from "../../src/mod.ts";
import { assertCliSymbol, describeChoice, describeError, environmentSettings, EXIT_FAILURE, EXIT_OK, formatNumber, openCliCache, openCliStore, parseOptions, printSummary, Progress, STORE_OPTIONS, STORE_USAGE, storeChoice, text, UsageError, type Command, type OptionValues } from "./shared.ts";
import type { SessionCache } from "../../src/entries/cache.ts";

const USAGE = `usage: tradelite import <file | folder> [options]

Streams bar files into the database ($TRADELITE_DB, else ./data/trading.db), in batches that
each commit whole: CSV and text files (TDX exports, Tushare, AKShare, baostock, JoinQuant,
RiceQuant; UTF-8 or GBK), TDX (通达信) binary files (sz000001.day daily, sh600519.lc1
1-minute, sh600519.lc5 5-minute), Parquet and Arrow IPC files (*.parquet, *.arrow, *.feather,
*.arrows: columns timestamp, open, high, low, close, volume, amount, and an optional symbol
column). A folder imports every such file in it (*.csv, *.parquet, *.arrow, SH#600519.txt
exports, TDX binaries), and a TDX install or vipdoc folder's {sh,sz,bj}/{lday,minline,fzline}
files. A file with a code column (ts_code, code, order_book_id, 股票代码) is split by it.

options:
  --symbol S       the symbol (default: from the file name: 600519.SH.csv, sh600519.csv and
                   000001.SH-1min.csv give 600519.SH, sh600519 and 000001.SH, and so do the
                   same names ending in .parquet or .arrow; the TDX file sz000001.day gives
                   000001.SZ)
  --timezone Z     the IANA zone of the FILE's naive times (default: the database's stored
                   zone, and Asia/Shanghai for TDX minute files; A-share exports:
                   Asia/Shanghai). A database this import creates stores this zone
                   ($TRADELITE_TIMEZONE, else Asia/Shanghai when TDX files are imported, else
                   UTC, without it)
  --interval 1d    the file holds daily bars: store them as the symbol's daily series,
                   beside its minute bars (each row a date alone, or a time at local midnight).
                   A file whose rows are dates alone, and a TDX .day file, are the daily series
                   without it; others go to the bars as written, as .lc1 and .lc5 do
  --profile P      read the file as P: ${PROFILE_NAMES.join(", ")} (default: from its header)
  --encoding E     ${ENCODINGS.join(" or ")} (default: UTF-8, or GBK when the first two lines are GBK)
  --volume-unit U  the volume column in ${VOLUME_UNITS.join(" or ")} (手, 100 shares), over the profile's
  --amount-unit U  the amount column in ${AMOUNT_UNITS.join(" or ")} (千元), over the profile's
  --adjusted       store forward- or back-adjusted prices (a 前复权 title, baostock
                   adjustflag 1 or 2) as the bars; refused without it: tradelite keeps raw prices
  --cache          write through the session cache ($TRADELITE_CACHE_DIR) instead of directly
  --skip-bad       report bad rows and go on (default: stop at the first; the rows before it
                   are stored, nothing from it on; a TDX file with a bad record is refused
                   whole)
  --batch N        rows per batch (default 10000)
  --cache-dir DIR  the session cache folder
  --json           the summary as one JSON object (bad rows still go to stderr)
${STORE_USAGE}
  -h, --help       this text

Headers read: date, datetime, time, timestamp, trade_date, open, high, low, close, vol/volume,
amount/turnover, and 日期 时间 开盘 最高 最低 收盘 成交量 成交额 (a separate date and time
column too), and each profile's own (docs/cli.md lists them with their units; sizes are
stored in shares and yuan). Exit codes: 0 all imported, 1 a bad row or a failure, 2 a usage
mistake.`;

/** The zone of the A-share exchanges, whose local times TDX writes. */
const EXCHANGE_ZONE = "Asia/Shanghai";

/**
 * The symbol a file name gives: a TDX binary file's code and exchange (sz000001.day gives
 * 000001.SZ); else an exchange code when the name starts with one and it ends there or at - _ .
 * or a space (600519.SH.csv, sh600519.csv, 000001.SH-1min.csv), else the whole name before
 * `.csv`, `.parquet`, `.arrow`, `.arrows` or `.feather`. Another name, or a hidden one, gives none.
 */
export function symbolFromFileName(path: string): string {
  const file = basename(path);
  const refuse = (why: string) => new UsageError(`cannot take a symbol from the file name ${JSON.stringify(file)} (${why}); give --symbol`);
  const tdx = tdxFileName(file);
  if (tdx !== null) return tdxSymbol(tdx);
  const exported = TDX_EXPORT_NAME.exec(file);
  if (exported) return `${exported[2]}.${exported[1]!.toUpperCase()}`;
  const extension = BAR_FILE_NAME.exec(file);
  if (!extension) throw refuse("it does not end in .csv, .parquet or .arrow, nor is it a TDX file such as sz000001.day");
  if (file.startsWith(".")) throw refuse("a hidden file");
  const name = file.slice(0, -extension[0].length);
  const code = /^(?:[A-Za-z]{2})?\d{6}(?:\.[A-Za-z]{2,4})?(?=$|[-_. ])/.exec(name);
  const symbol = code ? code[0] : name;
  if (!isSymbol(symbol)) throw refuse("not a symbol");
  return symbol;
}

/** The bar files a name alone says: CSV text, Parquet and Arrow (TDX's are told by tdxFileName). */
const BAR_FILE_NAME = /\.(?:csv|parquet|arrow|arrows|feather)$/i;
/** Columnar files: Parquet, and Arrow IPC (the file format, Feather v2, or the stream format). */
const COLUMNAR_NAME = /\.(?:parquet|arrow|arrows|feather)$/i;

/** A TDX text export's name: SH#601003.txt, or with more after the code (the symbol 601003.SH). */
const TDX_EXPORT_NAME = /^(SH|SZ|BJ)#(\d{6})(?:[-_. ][^/]*)?\.txt$/i;

/** The folders of a TDX tree that hold bar files: an exchange's, and the vipdoc folder's. */
const TDX_BAR_FOLDERS = ["lday", "minline", "fzline"];
const VIPDOC_FOLDERS = ["sh", "sz", "bj"].flatMap((exchange) => TDX_BAR_FOLDERS.map((kind) => join(exchange, kind)));

/**
 * The files an import argument names: the file; or a folder's *.csv and TDX files (*.day, *.lc1,
 * *.lc5) and those of the TDX folders in it: an install folder's vipdoc/{sh,sz,bj}/{lday,minline,
 * fzline}, a vipdoc folder's {sh,sz,bj}/..., an exchange folder's {lday,minline,fzline}; each
 * folder's files in name order.
 */
function filesOf(target: string): string[] {
  let stat;
  try {
    stat = statSync(target);
  } catch {
    throw new UsageError(`no such file or folder: ${target}`);
  }
  if (!stat.isDirectory()) return [target];
  const folders = [
    target,
    ...TDX_BAR_FOLDERS.map((folder) => join(target, folder)),
    ...[target, join(target, "vipdoc")].flatMap((vipdoc) => VIPDOC_FOLDERS.map((folder) => join(vipdoc, folder))),
  ];
  // Files only, not folders named *.csv; not hidden ones (._600519.SH.csv from macOS). Other
  // nested folders are not walked.
  const files = folders
    .filter((folder) => folder === target || existsSync(folder))
    .flatMap((folder) =>
      readdirSync(folder, { withFileTypes: true })
        .filter((entry) => entry.isFile() && !entry.name.startsWith(".") && (BAR_FILE_NAME.test(entry.name) || TDX_EXPORT_NAME.test(entry.name) || tdxFileName(entry.name) !== null))
        .map((entry) => entry.name)
        .sort()
        .map((name) => join(folder, name)),
    );
  if (files.length === 0) throw new UsageError(`no .csv, .parquet or .arrow files, TDX files (.day .lc1 .lc5) or vipdoc folders in ${target}`);
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
  profile: { type: "string" },
  encoding: { type: "string" },
  "volume-unit": { type: "string" },
  "amount-unit": { type: "string" },
  adjusted: { type: "boolean" },
  ...STORE_OPTIONS,
} as const;

/** A choice among `allowed`, or a usage mistake naming them. */
function oneOf<T extends string>(values: OptionValues, name: string, allowed: readonly T[]): T | undefined {
  const value = text(values, name);
  if (value !== undefined && !(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`--${name} ${JSON.stringify(value.slice(0, 20))}: one of ${allowed.join(", ")}`);
  }
  return value as T | undefined;
}

/** The reading options given (undefined ones left out). */
function definedReading<T extends object>(reading: T): Partial<T> {
  return Object.fromEntries(Object.entries(reading).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** Where a text file's bars went: its symbol, or its code column's symbols (the first five). */
function writtenTo(summary: BarFileSummary, symbol: string): string {
  const symbols = Object.entries(summary.symbols);
  if (summary.header?.code === null || summary.header === null) return symbol;
  const shown = symbols.slice(0, 5).map(([name, rows]) => `${name} ${formatNumber(rows)}`);
  return `${formatNumber(symbols.length)} symbol(s) (${shown.join(", ")}${symbols.length > 5 ? ", ..." : ""})`;
}

/** How a text file was read: its profile, encoding, conversions and assumed units. */
function describeReading(summary: BarFileSummary): string {
  const header = summary.header!;
  const parts = [`read as ${header.profile}`, `${summary.encoding.name}${summary.encoding.detected && summary.encoding.name !== "utf-8" ? " (detected)" : ""}`];
  if (header.conversions.length > 0) parts.push(`converted ${header.conversions.join("; ")}`);
  if (header.assumed.length > 0) parts.push(`assumed ${header.assumed.join("; ")}`);
  if (summary.adjusted !== null) parts.push(`adjusted prices stored as told: ${summary.adjusted}`);
  return parts.join("; ");
}

/** One file to import: where it is, its symbol, and what its TDX name says (null: CSV). */
interface ImportFile {
  path: string;
  /** The file's symbol, or why its name gives none (a file with a code column needs none). */
  symbol: string | UsageError;
  tdx: TdxFileName | null;
  series: "1d" | "minutes";
}

/**
 * The files to import and the ones left out. Two files giving one symbol's one series would
 * overwrite each other's bars where their times meet, and are refused; but a TDX folder holds a
 * stock's 1-minute and 5-minute files side by side, so its .lc5 is left out when its .lc1 is
 * imported (5-minute bars are read from 1-minute ones, `--interval 5m`), and says so.
 */
function planFiles(paths: string[], symbolOption: string | undefined, daily: boolean, cache: boolean): { files: ImportFile[]; skipped: { path: string; reason: string }[] } {
  const all = paths.map((path): ImportFile => {
    const tdx = tdxFileName(basename(path));
    if (tdx === null && /\.(?:day|lc1|lc5)$/i.test(path)) {
      throw new UsageError(`${basename(path)}: a TDX file is named <sh|sz|bj><6-digit code>.<day|lc1|lc5> (sz000001.day); the name gives its exchange and price unit`);
    }
    if (tdx !== null && daily && tdx.kind !== "day") throw new UsageError(`--interval 1d is for CSV files; ${basename(path)} is a TDX minute file, stored as the bars as written`);
    if (tdx?.kind === "day" && cache) throw new UsageError(`${basename(path)} is a TDX daily file, stored as the daily series; the session cache holds minute bars (leave out --cache)`);
    let symbol: string | UsageError;
    try {
      symbol = symbolOption ?? symbolFromFileName(path);
    } catch (error) {
      if (!(error instanceof UsageError) || tdx !== null) throw error;
      symbol = error;
    }
    return { path, symbol, tdx, series: tdx ? (tdx.kind === "day" ? "1d" : "minutes") : daily ? "1d" : "minutes" };
  });
  const withOneMinute = new Set(all.filter((file) => file.tdx?.kind === "lc1").map((file) => file.symbol));
  const skipped = all
    .filter((file) => file.tdx?.kind === "lc5" && withOneMinute.has(file.symbol))
    .map((file) => ({ path: file.path, reason: `not imported: ${file.symbol}'s 1-minute file is, and its bars as written hold one interval (5-minute bars are read from it with --interval 5m; import this file alone with --symbol to keep it apart)` }));
  const files = all.filter((file) => !skipped.some((skip) => skip.path === file.path));
  const firstFile = new Map<string, string>();
  for (const file of files) {
    if (file.symbol instanceof UsageError) continue;
    const key = `${file.symbol} ${file.series}`;
    const other = firstFile.get(key);
    if (other !== undefined) throw new UsageError(`${basename(other)} and ${basename(file.path)} both give the symbol ${file.symbol}; import them one at a time with --symbol`);
    firstFile.set(key, file.path);
  }
  return { files, skipped };
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, OPTIONS);
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "name a file or folder to import" : "import takes one file or folder");
  const paths = filesOf(positionals[0]!);
  const symbolOption = text(values, "symbol");
  if (symbolOption !== undefined) assertCliSymbol(symbolOption, "--symbol ");
  if (symbolOption !== undefined && paths.length > 1) throw new UsageError("--symbol names one symbol; a folder holds one file per symbol");
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
  const reading = {
    profile: oneOf<ProfileName>(values, "profile", PROFILE_NAMES),
    encoding: oneOf<Encoding>(values, "encoding", ENCODINGS),
    volumeUnit: oneOf<VolumeUnit>(values, "volume-unit", VOLUME_UNITS),
    amountUnit: oneOf<AmountUnit>(values, "amount-unit", AMOUNT_UNITS),
  };
  const { files, skipped } = planFiles(paths, symbolOption, daily, Boolean(values.cache));
  const tdxMinutes = files.some((file) => file.tdx !== null && file.series === "minutes");

  // A file's zone is not the database's: the database keeps the zone it stores; one this import
  // creates takes the file's. TDX files are in the exchanges' zone, and stamp a minute bar with
  // its closing minute: a database created for them says so, unless the environment says else.
  const environment = environmentSettings();
  const initial: SettingsRequest = {};
  if (fileZoneOption !== undefined) initial.timezone = fileZoneOption;
  else if (files.some((file) => file.tdx !== null) && environment.timezone === undefined) initial.timezone = EXCHANGE_ZONE;
  if (tdxMinutes && environment.barTimestamp === undefined) initial.barTimestamp = "end";
  const choice = storeChoice(values);
  const store = await openCliStore(choice, { initial });
  const timeZone = fileZoneOption ?? store.timezone;
  let cache: SessionCache | null = null;
  const started = performance.now();
  let failed = false;
  const totals = { files: 0, rows: 0, written: 0, batches: 0, bad: 0 };
  /** Adds one imported file's counts. */
  const tally = (rows: number, written: number, batches: number, bad: number) => {
    totals.files++;
    totals.rows += rows;
    totals.written += written;
    totals.batches += batches;
    totals.bad += bad;
  };
  const location = describeChoice(choice);
  // Console lines for people; with --json they go to stderr and the summary alone to stdout.
  const say = values.json ? console.error : console.log;
  for (const skip of skipped) say(`${skip.path}: ${skip.reason}`);
  try {
    if (values.cache) cache = openCliCache(store, text(values, "cache-dir"));
    for (const planned of files) {
      const { path: file, symbol: fileSymbol, tdx } = planned;
      // A text file of dates alone is daily bars: its header says so, and it goes to the daily
      // series without --interval 1d (decided when the header is read, before any write).
      let series = planned.series;
      const size = statSync(file).size;
      const progress = new Progress(`${basename(file)} -> ${fileSymbol instanceof UsageError ? "its codes" : fileSymbol}`, size, " bytes");
      /** The symbol of a batch: its rows' code, or the file's. */
      const symbolOf = (code: string | null): string => {
        if (code !== null) return code;
        if (fileSymbol instanceof UsageError) throw fileSymbol;
        return fileSymbol;
      };
      const symbol = fileSymbol instanceof UsageError ? "" : fileSymbol;
      let committed = 0;
      let writing = "";
      /** Writes one batch (`what`: its lines or records), and traces it when asked. */
      const write = async (bars: BarColumns, what: string, code: string | null = null): Promise<number> => {
        writing = what;
        const target = symbolOf(code);
        const written = cache
          ? (await cache.storeBars(target, bars)).written
          : await store.insertBars(target, bars, series === "1d" ? { interval: "1d", audit: "entry" } : { audit: "entry" });
        committed += written;
        // One line per committed batch, written at once (not buffered): what a crash test, or a
        // person watching a long import, can hold us to.
        if (process.env.TRADELITE_IMPORT_TRACE) writeSync(1, `committed ${target} ${what} rows ${written}\n`);
        return written;
      };
      const dailyWord = () => (series === "1d" ? "daily " : "");
      try {
        if (COLUMNAR_NAME.test(file)) {
          const importColumnar = /\.parquet$/i.test(file) ? importParquetFile : importArrowFile;
          const summary = await importColumnar(Bun.file(file), {
            timeZone,
            // Rows read, shown as the share of the file's bytes the progress line counts.
            onProgress: (rows, of) => progress.update(Math.round((size * rows) / Math.max(of, 1))),
            write: (bars, rows, code) => {
              if (code !== null && symbolOption !== undefined) throw new BarFileError("the file names each row's symbol in a symbol column; leave out --symbol");
              return write(bars, `rows ${rows.first}-${rows.last}`, code);
            },
          });
          progress.done();
          tally(summary.rows, summary.written, summary.batches, 0);
          const to = summary.symbolColumn === null ? symbol : `${formatNumber(Object.keys(summary.symbols).length)} symbol(s) from its ${summary.symbolColumn} column`;
          const ignored = summary.ignored.length ? ` (ignored columns: ${summary.ignored.join(", ")})` : "";
          say(`${file}: ${formatNumber(summary.written)} ${dailyWord()}bars written to ${to} in ${formatNumber(summary.batches)} batches${ignored}`);
          continue;
        }
        if (tdx !== null) {
          // A .day file's dates are days in the database's zone (the daily series' rule); minute
          // files' times are the exchange's wall clock.
          const zone = tdx.kind === "day" ? store.timezone : (fileZoneOption ?? EXCHANGE_ZONE);
          const summary = await importTdxFile(Bun.file(file), tdx, {
            timeZone: zone,
            batchRecords: Number(batchText),
            skipBad: Boolean(values["skip-bad"]),
            onBadRecord: (bad: BadRecord) => {
              progress.done();
              console.error(`${file}: record ${bad.record}: ${bad.reason}`);
            },
            onProgress: (bytes) => progress.update(bytes),
            write: (bars, records) => write(bars, `records ${records.first}-${records.last}`),
          });
          progress.done();
          tally(summary.records, summary.written, summary.batches, summary.badRecords);
          const span = summary.first === null ? "" : ` (${[summary.first, summary.last!].map((ms) => formatIsoLocal(ms, zone).slice(0, tdx.kind === "day" ? 10 : 16)).join(" to ")})`;
          say(`${file}: ${formatNumber(summary.written)} ${dailyWord()}bars written to ${symbol}${span} in ${formatNumber(summary.batches)} batches, ${formatNumber(summary.badRecords)} bad records`);
          continue;
        }
        const summary = await importBarFile(Bun.file(file).stream(), {
          timeZone,
          ...(daily ? { interval: "1d" as const } : {}),
          batchRows: Number(batchText),
          skipBad: Boolean(values["skip-bad"]),
          onBadRow: (bad: BadRow) => {
            progress.done();
            console.error(`${file}:${bad.line}: ${bad.reason}`);
          },
          onProgress: (bytes) => progress.update(bytes),
          ...definedReading(reading),
          adjusted: Boolean(values.adjusted),
          onHeader: (header) => {
            if (header.code !== null && symbolOption !== undefined) {
              throw new BarFileError(`the file names each row's symbol in a code column (profile ${header.profile}); leave out --symbol`);
            }
            if (header.time.kind === "date" && series !== "1d") {
              if (cache) throw new BarFileError("every row is a date without a time: daily bars, and the session cache holds minutes (leave out --cache)");
              series = "1d";
              planned.series = "1d";
            }
          },
          write: (bars, lines, code) => write(bars, `lines ${lines.first}-${lines.last}`, code),
        });
        progress.done();
        tally(summary.rows, summary.written, summary.batches, summary.badRows);
        const ignored = summary.header?.ignored.length ? ` (ignored columns: ${summary.header.ignored.join(", ")})` : "";
        say(`${file}: ${formatNumber(summary.written)} ${dailyWord()}bars written to ${writtenTo(summary, symbol)} in ${formatNumber(summary.batches)} batches, ${formatNumber(summary.badRows)} bad rows${ignored}`);
        say(`${file}: ${describeReading(summary)}`);
        if (!daily && series === "1d" && summary.written > 0) say(`${file}: every row is a date without a time: stored as the daily series (interval 1d), beside the minutes`);
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
            `${file}: ${writing} were not written: ${describeError(error)}` +
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
  const csvRead = files.some((file) => file.tdx === null && !COLUMNAR_NAME.test(file.path));
  // The zone the files' times were read in: the CSV files', else TDX's exchange zone.
  const tdxRead = files.some((file) => file.tdx !== null);
  const readZone = csvRead || !tdxRead ? timeZone : (fileZoneOption ?? EXCHANGE_ZONE);
  const seriesWritten = [...new Set(files.map((file) => file.series))];
  const seriesName = seriesWritten.length === 1 ? seriesWritten[0]! : "1d and minutes";
  if (values.json) {
    const target = cache ? { cache: cache.settings.dir, database: location } : { database: location };
    console.log(JSON.stringify({ ok: !failed, files: totals.files, of: files.length, skipped: skipped.map((skip) => skip.path), rows: totals.rows, written: totals.written, batches: totals.batches, badRows: totals.bad, series: seriesName, timezone: readZone, ...target, seconds }));
    return failed ? EXIT_FAILURE : EXIT_OK;
  }
  printSummary(failed ? "import stopped" : "import done", [
    ["files", `${totals.files} of ${files.length}${skipped.length > 0 ? ` (${skipped.length} left out, named above)` : ""}`],
    ["rows read", totals.rows],
    ["bars written", totals.written],
    ["batches", totals.batches],
    ["bad rows", `${totals.bad}${values["skip-bad"] ? " (skipped)" : ""}`],
    ["series", { "1d": "1d (stored daily bars)", minutes: "bars as written", "1d and minutes": "1d (daily files) and bars as written" }[seriesName] ?? seriesName],
    ["time zone", `${readZone} (${csvRead ? "the file's naive times" : tdxRead ? "TDX's exchange times" : "Parquet's or Arrow's naive times, if any; UTC timestamps are read as they are"})${readZone === store.timezone ? "" : `; the database stores ${store.timezone}`}`],
    ["target", cache ? `session cache ${cache.settings.dir} (and ${location})` : location],
    ["took", `${seconds.toFixed(1)} s (${Math.round(totals.written / Math.max(seconds, 0.001)).toLocaleString("en-US")} bars/s)`],
  ]);
  if (totals.bad > 0) console.log("  (each bad row is listed above, on stderr, as file:line: reason, or file: record N: reason)");
  if (csvRead && timeZone === "UTC" && fileZoneOption === undefined) {
    console.log("  (naive times were read as UTC, the database's zone; A-share exports are Asia/Shanghai: pass --timezone)");
  }
  if (tdxMinutes && store.barTimestamp === "start") {
    console.log(
      "  (TDX stamps a minute bar with its closing minute, and these are stored so; this database stamps bars at their start, " +
        "so its resampled reads put them one minute late: keep TDX minutes in a database created with `tradelite init --bar-timestamp end`)",
    );
  }
  return failed ? EXIT_FAILURE : EXIT_OK;
}

export const importCommand: Command = { name: "import", summary: "import bar files: CSV (any size, common header spellings) and TDX binaries (.day .lc1 .lc5)", usage: USAGE, options: OPTIONS, run };
