/**
 * `tradelite tail SYMBOL...`: bars as they are stored, by any writer (Store.watch), one line each,
 * until interrupted; `--since CURSOR` replays from a cursor first.
 */
import { INTERVALS, ValidationError, type BarEvent, type Interval, type WatchOptions } from "../../src/mod.ts";
import { ADJUST_OPTIONS, ADJUST_USAGE, adjustOptions, assertCliSymbol, EXIT_OK, formatTime, openCliStore, parseOrHelp, STORE_OPTIONS, STORE_USAGE, storeChoice, text, UsageError, type Command } from "./shared.ts";

const USAGE = `usage: tradelite tail SYMBOL... [--interval 5m] [--align clock|session] [--since CURSOR]
                      [--count N] [--adjust qfq|hfq [--as-of T]] [--json] [--utc]

Prints each bar of the symbols as it is stored, by this machine's recorder, a Python script or
psql alike, until interrupted (Ctrl-C) or --count bars were printed. On exit the cursor to resume
from goes to stderr.

options:
  --interval I         resample (${INTERVALS.join(", ")}): each bar is printed as it forms
                       ("forming") and once more when its bucket closes ("final")
  --align A            bucket alignment with --interval: clock (default) or session
  --since CURSOR       first replay what was stored after CURSOR (printed by an earlier tail on
                       exit, or an event's cursor in --json), then go on live
  --count N            exit after N bars
${ADJUST_USAGE}
  --json               one JSON object a line (NDJSON): { cursor, symbol, interval, bar, final },
                       times as epoch ms
  --utc                times in UTC; by default in the database's zone with the offset written out
${STORE_USAGE}
  -h, --help           this text

Exit 0 when interrupted or after --count bars; 2 for a usage mistake, a bad symbol or cursor.`;

const OPTIONS = {
  ...STORE_OPTIONS,
  interval: { type: "string" },
  align: { type: "string" },
  since: { type: "string" },
  count: { type: "string" },
  json: { type: "boolean" },
  utc: { type: "boolean" },
  ...ADJUST_OPTIONS,
} as const;

async function run(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(argv, OPTIONS, USAGE);
  if (parsed === null) return EXIT_OK;
  const { values, positionals } = parsed;
  if (positionals.length === 0) throw new UsageError("name at least one SYMBOL to tail");
  for (const symbol of positionals) assertCliSymbol(symbol);
  const options: WatchOptions = { symbols: positionals, ...adjustOptions(values) };
  const interval = text(values, "interval");
  if (interval !== undefined) {
    if (!(INTERVALS as readonly string[]).includes(interval)) throw new UsageError(`--interval is one of ${INTERVALS.join(", ")}, got ${JSON.stringify(interval.slice(0, 20))}`);
    options.interval = interval as Interval;
  }
  const align = text(values, "align");
  if (align !== undefined) options.align = align as WatchOptions["align"];
  const since = text(values, "since");
  if (since !== undefined) options.since = since;
  const countText = text(values, "count");
  const count = countText === undefined ? Infinity : Number(countText);
  if (!(Number.isSafeInteger(count) && count > 0) && count !== Infinity) throw new UsageError(`--count is a positive whole number, got ${JSON.stringify(countText)}`);

  const store = await openCliStore(storeChoice(values), { existing: true, readonly: true });
  const stop = new AbortController();
  const interrupt = () => stop.abort();
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);
  let cursor: string | undefined;
  try {
    const watch = (() => {
      try {
        return store.watch({ ...options, signal: stop.signal });
      } catch (error) {
        if (error instanceof ValidationError) throw new UsageError(error.message);
        throw error;
      }
    })();
    try {
      cursor = await watch.ready;
    } catch (error) {
      // A bad or foreign cursor, a symbol without a calendar: a usage mistake, exit 2.
      if (error instanceof ValidationError) throw new UsageError(error.message);
      throw error;
    }
    const zone = values.utc ? null : store.timezone;
    let printed = 0;
    for await (const event of watch) {
      cursor = event.cursor;
      if (event.gap) console.error("note: the change log no longer holds everything after --since; replaying from the oldest change it keeps");
      process.stdout.write(values.json ? `${JSON.stringify(event)}\n` : formatEvent(event, zone));
      if (++printed >= count) break;
    }
    return EXIT_OK;
  } finally {
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
    if (cursor !== undefined) console.error(`resume with: --since ${cursor}`);
    await store.close();
  }
}

function formatEvent({ symbol, bar, final, interval }: BarEvent, zone: string | null): string {
  const cell = (value: number | null) => (value === null ? "-" : String(value));
  const state = interval === null ? "" : final ? "  final" : "  forming";
  return `${symbol}  ${formatTime(bar.timestamp, zone)}  ${cell(bar.open)} ${cell(bar.high)} ${cell(bar.low)} ${cell(bar.close)} ${cell(bar.volume)} ${cell(bar.amount)}${state}\n`;
}

export const tailCommand: Command = { name: "tail", summary: "print bars as they are stored, by any writer (store.watch)", usage: USAGE, options: OPTIONS, run };
