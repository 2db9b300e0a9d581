/**
 * `tradelite gaps`: which one-minute bars a symbol's calendar calls for and the store lacks, day
 * by day (completeness() on the store), for one symbol or every symbol stored.
 */
import { wallClock } from "../../src/domain/calendar.ts";
import type { Completeness } from "../../src/domain/session.ts";
import type { CalendarData, Store } from "../../src/mod.ts";
import { assertSymbolStored, EXIT_FAILURE, EXIT_OK, formatNumber, openCliStore, parseOptions, STORE_OPTIONS, STORE_USAGE, storeChoice, text, UsageError, type Command } from "./shared.ts";

const USAGE = `usage: tradelite gaps SYMBOL [--start T] [--end T] [--db PATH | --database-url URL] [--json]
       tradelite gaps --all [--start T] [--end T] [--db PATH | --database-url URL] [--json]

Per trading day of the symbol's calendar: the bars its sessions call for, the bars stored, and
the missing minutes as ranges (wall-clock times in the calendar's zone). Also counts bars off the
session grid and lists dates with bars the calendar says were closed. --start and --end bound the
days (a date alone is that whole day); by default from the first to the last stored bar.
Exit 1 when a symbol has no calendar (tradelite calendar assign, or the database's default).

${STORE_USAGE}`;

const OPTIONS = { ...STORE_OPTIONS, all: { type: "boolean" }, json: { type: "boolean" }, start: { type: "string" }, end: { type: "string" } } as const;

/** Partial days listed per symbol in text output before "... and N more". */
const SHOWN_DAYS = 20;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, OPTIONS);
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (values.all ? positionals.length > 0 : positionals.length !== 1) throw new UsageError("give one SYMBOL, or --all");
  const range = { ...(text(values, "start") ? { start: text(values, "start")! } : {}), ...(text(values, "end") ? { end: text(values, "end")! } : {}) };
  const store = await openCliStore(storeChoice(values), { existing: true, readonly: true });
  try {
    const symbols = values.all ? (await store.overview()).map((row) => row.symbol) : positionals;
    const reports: Record<string, Completeness | { error: string }> = {};
    let status = EXIT_OK;
    for (const symbol of symbols) {
      try {
        reports[symbol] = await store.completeness(symbol, range);
        // No trading day at all: a symbol never stored (000001.sh for 000001.SH) is a mistake, not a clean report.
        if (!values.all && reports[symbol].days.length === 0) await assertSymbolStored(store, symbol);
      } catch (error) {
        if (!(error instanceof Error) || !("code" in error)) throw error;
        reports[symbol] = { error: error.message };
        status = EXIT_FAILURE;
      }
    }
    if (values.json) console.log(JSON.stringify(values.all ? reports : reports[symbols[0]!]));
    else for (const symbol of symbols) printReport(symbol, reports[symbol]!, await calendarsOf(store, reports));
    return status;
  } finally {
    await store.close();
  }
}

/** The calendars the reports name, read once each. */
async function calendarsOf(store: Store, reports: Record<string, Completeness | { error: string }>): Promise<Map<string, CalendarData | null>> {
  const names = new Set(Object.values(reports).flatMap((report) => ("calendar" in report ? [report.calendar] : [])));
  return new Map(await Promise.all([...names].map(async (name) => [name, await store.calendars.get(name)] as const)));
}

function printReport(symbol: string, report: Completeness | { error: string }, calendars: Map<string, CalendarData | null>): void {
  if ("error" in report) {
    console.log(`${symbol}: ${report.error}`);
    return;
  }
  const zone = calendars.get(report.calendar)?.timezone ?? "UTC";
  const expected = report.days.reduce((n, d) => n + d.expected, 0);
  const present = report.days.reduce((n, d) => n + d.present, 0);
  const partial = report.days.filter((d) => d.present < d.expected);
  const empty = partial.filter((d) => d.present === 0).length;
  console.log(
    `${symbol} (${report.calendar}, ${zone}): ${report.days.length} trading days, ${formatNumber(present)} of ${formatNumber(expected)} bars, ` +
      `${formatNumber(expected - present)} missing on ${partial.length} days (${empty} without any bar)` +
      `${report.outside > 0 ? `, ${formatNumber(report.outside)} off the session grid` : ""}`,
  );
  for (const day of partial.slice(0, SHOWN_DAYS)) {
    const ranges = day.missing.map((r) => (r.start === r.end ? wallClock(r.start, zone).slice(11) : `${wallClock(r.start, zone).slice(11)}-${wallClock(r.end, zone).slice(11)}`));
    console.log(`  ${day.date}  ${String(day.present).padStart(4)}/${day.expected}  missing ${ranges.join(", ")}`);
  }
  if (partial.length > SHOWN_DAYS) console.log(`  ... and ${partial.length - SHOWN_DAYS} more days (--json lists them all)`);
  if (report.nonTradingDays.length > 0) console.log(`  bars on closed days: ${report.nonTradingDays.join(", ")}`);
}

export const gapsCommand: Command = { name: "gaps", summary: "missing minutes per trading day, by the symbol's exchange calendar", usage: USAGE, options: OPTIONS, run };
