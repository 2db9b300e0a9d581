/**
 * `tradelite daily-diff <symbol>`: the dates where the symbol's stored daily bars (imported with
 * --interval 1d) and its minute bars resampled to days disagree: a data-quality check of one
 * vendor's daily file against its (or another's) minute file. The comparison is the domain's
 * dailyDifferences, so the library gives the same list.
 */
import { DAILY_DIFF_TOLERANCE, dailyDifferences, type Bar, type DailyDifference } from "../../src/mod.ts";
import { assertCliSymbol, assertSymbolStored, EXIT_OK, formatNumber, openCliStore, parseOptions, STORE_OPTIONS, STORE_USAGE, storeChoice, text, UsageError, type Command } from "./shared.ts";

const USAGE = `usage: tradelite daily-diff <symbol> [options]

Lists the dates where the symbol's stored daily bars and its minute bars resampled to days
disagree: open, high, low or close unequal (prices are compared exactly: a resampled price is one
stored minute's), volume or amount apart by more than --tolerance of the larger, or a date with a
bar on one side only. Dates are trading dates in the database's zone.

options:
  --start D, --end D   inclusive range of dates (YYYY-MM-DD or YYYYMMDD in the database's zone; whole days)
  --tolerance F        relative tolerance for volume and amount (default ${DAILY_DIFF_TOLERANCE}, i.e. ${DAILY_DIFF_TOLERANCE * 100}%)
  --align A            how minutes make days: clock (default: the local calendar day) or session
                       (the symbol's exchange calendar's trading date)
  --json               one JSON object: { symbol, tolerance, differences: [...] }, epoch ms
${STORE_USAGE}
  -h, --help           this text

Exit code 0 whether or not dates differ (the count is printed; --json has it), 1 on a failure,
2 on a usage mistake.`;

const OPTIONS = {
  start: { type: "string" },
  end: { type: "string" },
  tolerance: { type: "string" },
  align: { type: "string" },
  json: { type: "boolean" },
  ...STORE_OPTIONS,
} as const;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, OPTIONS);
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError("name one symbol");
  const symbol = positionals[0]!;
  assertCliSymbol(symbol);
  const toleranceText = text(values, "tolerance");
  const tolerance = toleranceText === undefined ? DAILY_DIFF_TOLERANCE : Number(toleranceText);
  if (toleranceText !== undefined && !(/^\d+(\.\d+)?(e-?\d+)?$/i.test(toleranceText) && Number.isFinite(tolerance))) {
    throw new UsageError(`--tolerance expects a fraction such as 0.001, got ${JSON.stringify(toleranceText.slice(0, 20))}`);
  }
  const align = text(values, "align");
  if (align !== undefined && align !== "clock" && align !== "session") throw new UsageError(`--align is clock or session, got ${JSON.stringify(align.slice(0, 20))}`);
  const start = text(values, "start");
  const end = text(values, "end");

  const store = await openCliStore(storeChoice(values), { existing: true, readonly: true });
  try {
    const differences = await dailyDifferences(store, symbol, {
      tolerance,
      ...(align === undefined ? {} : { align }),
      ...(start === undefined ? {} : { start }),
      ...(end === undefined ? {} : { end }),
    });
    // Nothing differs, or nothing is there: a symbol never stored (000001.sh for 000001.SH) is a mistake.
    if (differences.length === 0) await assertSymbolStored(store, symbol);
    if (values.json) {
      console.log(JSON.stringify({ symbol, timezone: store.timezone, tolerance, differences }));
      return EXIT_OK;
    }
    printDifferences(symbol, differences, tolerance);
    return EXIT_OK;
  } finally {
    await store.close();
  }
}

function printDifferences(symbol: string, differences: readonly DailyDifference[], tolerance: number): void {
  if (differences.length === 0) {
    console.log(`${symbol}: stored daily bars and days from minutes agree (volume and amount within ${tolerance * 100}%)`);
    return;
  }
  const header = ["date", "differs", "side", "open", "high", "low", "close", "volume", "amount"];
  const rows: string[][] = [];
  for (const difference of differences) {
    const what = difference.present === "both" ? difference.fields.join(",") : `only ${difference.present === "stored" ? "stored" : "from minutes"}`;
    rows.push([difference.date, what, ...barCells("stored", difference.stored)]);
    rows.push(["", "", ...barCells("minutes", difference.minutes)]);
  }
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  console.log(`\n${symbol}: ${formatNumber(differences.length)} dates differ`);
}

function barCells(side: string, bar: Bar | null): string[] {
  if (bar === null) return [side, "-", "-", "-", "-", "-", "-"];
  const cell = (value: number | null) => (value === null ? "null" : String(value));
  return [side, cell(bar.open), cell(bar.high), cell(bar.low), cell(bar.close), cell(bar.volume), cell(bar.amount)];
}

export const dailyDiffCommand: Command = {
  name: "daily-diff",
  summary: "dates where a symbol's stored daily bars and its minutes disagree",
  usage: USAGE,
  options: OPTIONS,
  run,
};
