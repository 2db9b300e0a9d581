/**
 * `tradelite snapshot --at WHEN`: the as-of cross-section (Store.getCrossSection), each symbol's
 * latest bar at or before an instant, as a table, CSV or JSON.
 */
import { CROSS_SECTION_INTERVALS, ValidationError, type CrossSection, type CrossSectionInterval, type CrossSectionQuery } from "../../src/mod.ts";
import { CSV_HEADER, formatBarCsvIn } from "../../src/domain/bar-format.ts";
import { ADJUST_OPTIONS, ADJUST_USAGE, adjustOptions, EXIT_OK, formatNumber, formatTime, openCliStore, parseOrHelp, STORE_OPTIONS, STORE_USAGE, storeChoice, text, UsageError, type Command } from "./shared.ts";

const USAGE = `usage: tradelite snapshot --at WHEN [--symbols S1,S2,...] [--interval 1d] [--adjust qfq|hfq [--as-of T]]
                          [--csv | --json] [--utc]

Each symbol's latest bar at or before WHEN, one line per symbol sorted by symbol, then the symbols
named in --symbols that have no bar that early. One query of index seeks, whatever the history.

options:
  --at WHEN            the instant: epoch ms (digits), ISO-8601, YYYY-MM-DD HH:MM[:SS] in the
                       database's zone, or a date alone (YYYY-MM-DD or YYYYMMDD), which is the
                       end of that day: "snapshot --at 2024-07-11" gives that day's closing bars
  --symbols LIST       comma-separated symbols; omitted, every symbol stored
  --interval I         1m (default: the bars as written) or 1d (the stored daily series, only
                       days that have ended by WHEN)
${ADJUST_USAGE}
  --csv                symbol,timestamp,open,high,low,close,volume,amount; the missing symbols
                       go to stderr
  --json               the cross-section as one JSON object: { at, interval, rows: [{ symbol,
                       bar }], missing }, times as epoch ms
  --utc                times in UTC (table and CSV); by default in the database's zone with the
                       offset written out
${STORE_USAGE}
  -h, --help           this text

Exit 0 when the snapshot was read (symbols without a bar are listed, not an error); 2 for a
usage mistake, a bad --at or a bad symbol.`;

const OPTIONS = {
  ...STORE_OPTIONS,
  at: { type: "string" },
  symbols: { type: "string" },
  interval: { type: "string" },
  csv: { type: "boolean" },
  json: { type: "boolean" },
  utc: { type: "boolean" },
  ...ADJUST_OPTIONS,
} as const;

async function run(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(argv, OPTIONS, USAGE);
  if (parsed === null) return EXIT_OK;
  const { values, positionals } = parsed;
  if (positionals.length > 0) throw new UsageError("snapshot takes options only (--symbols A,B for symbols)");
  if (values.csv && values.json) throw new UsageError("give --csv or --json, not both");
  const at = text(values, "at");
  if (at === undefined) throw new UsageError("--at WHEN is required");
  // As given: the store reads it by the one date rule (a date alone is the end of that day).
  const query: CrossSectionQuery = { at };
  const symbols = text(values, "symbols");
  if (symbols !== undefined) query.symbols = symbols === "" ? [] : symbols.split(",");
  const interval = text(values, "interval");
  if (interval !== undefined && !(CROSS_SECTION_INTERVALS as readonly string[]).includes(interval)) {
    throw new UsageError(`--interval is ${CROSS_SECTION_INTERVALS.join(" or ")}, got ${JSON.stringify(interval.slice(0, 20))}`);
  }
  if (interval !== undefined) query.interval = interval as CrossSectionInterval;
  Object.assign(query, adjustOptions(values));

  const store = await openCliStore(storeChoice(values), { existing: true, readonly: true });
  try {
    let snapshot: CrossSection;
    try {
      snapshot = await store.getCrossSection(query);
    } catch (error) {
      // The store names the option (at, symbols[2]): a usage mistake, exit 2.
      if (error instanceof ValidationError) throw new UsageError(error.message);
      throw error;
    }
    const zone = values.utc ? null : store.timezone;
    if (values.json) console.log(JSON.stringify(snapshot));
    else if (values.csv) printCsv(snapshot, zone);
    else printTable(snapshot, zone);
    return EXIT_OK;
  } finally {
    await store.close();
  }
}

function printCsv(snapshot: CrossSection, zone: string | null): void {
  const line = formatBarCsvIn(zone);
  let out = `symbol,${CSV_HEADER}\n`;
  // A symbol is printable without whitespace; one with a comma or a quote is quoted as CSV does.
  for (const { symbol, bar } of snapshot.rows) out += `${/[",]/.test(symbol) ? `"${symbol.replaceAll('"', '""')}"` : symbol},${line(bar)}`;
  process.stdout.write(out);
  if (snapshot.missing.length > 0) console.error(`no bar at or before ${formatTime(snapshot.at, zone)}: ${snapshot.missing.join(", ")}`);
}

function printTable(snapshot: CrossSection, zone: string | null): void {
  const { rows, missing } = snapshot;
  console.log(`snapshot at ${formatTime(snapshot.at, zone)} (${snapshot.interval === "1d" ? "stored daily bars" : "bars as written"}): ${formatNumber(rows.length)} symbol${rows.length === 1 ? "" : "s"}${missing.length > 0 ? `, ${formatNumber(missing.length)} without a bar` : ""}`);
  if (rows.length > 0) {
    const header = ["symbol", "time", "open", "high", "low", "close", "volume", "amount"];
    const cell = (value: number | null) => (value === null ? "-" : String(value));
    const lines = rows.map(({ symbol, bar }) => [symbol, formatTime(bar.timestamp, zone), cell(bar.open), cell(bar.high), cell(bar.low), cell(bar.close), cell(bar.volume), cell(bar.amount)]);
    const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => line[i]!.length)));
    const format = (cells: string[]) => cells.map((text, i) => (i < 2 ? text.padEnd(widths[i]!) : text.padStart(widths[i]!))).join("  ").trimEnd();
    console.log(format(header));
    for (const line of lines) console.log(format(line));
  }
  if (missing.length > 0) console.log(`\nno bar at or before then: ${missing.join(", ")}`);
}

export const snapshotCommand: Command = { name: "snapshot", summary: "each symbol's latest bar at or before an instant (the cross-section)", usage: USAGE, options: OPTIONS, run };
