/** `tradelite overview`: what the database and the session cache hold, per symbol. */
import { EXIT_OK, formatBytes, formatNumber, formatTime, localDate, openCliCache, openCliStore, parseOptions, STORE_OPTIONS, STORE_USAGE, describeChoice, storeChoice, text, UsageError, type Command } from "./shared.ts";
import type { Store } from "../../src/mod.ts";

const USAGE = `usage: tradelite overview [--db PATH | --database-url URL] [--cache-dir DIR] [--completeness] [--utc] [--json]

One line per symbol: bars stored (as written: minutes), first and last bar, the stored daily
bars (imported with --interval 1d) and their first and last date, and the session cache's rows,
size and last compaction. Times are in the database's stored zone with the offset written out
(2024-01-15T09:31:00+08:00); --utc prints them in UTC. --json prints the same as one JSON object
(times as epoch ms, with the stored settings; a symbol's "daily" is there when it has stored
daily bars; a symbol with daily bars only has count 0, start and end null). --completeness adds,
for each symbol with a calendar, the minutes its sessions call for from its first bar's day to
its last's and how many of them are missing (tradelite gaps SYMBOL lists them); it reads every
stored minute, so it takes as long as tradelite gaps --all.

${STORE_USAGE}`;

const OPTIONS = { ...STORE_OPTIONS, "cache-dir": { type: "string" }, utc: { type: "boolean" }, json: { type: "boolean" }, completeness: { type: "boolean" } } as const;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, OPTIONS);
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (positionals.length > 0) throw new UsageError("overview takes no arguments");
  const choice = storeChoice(values);
  const store = await openCliStore(choice, { existing: true, readonly: true });
  try {
    const counts = Boolean(values.completeness);
    const symbols = await store.overview({ completeness: counts });
    const cache = await openCliCache(store, text(values, "cache-dir")).list();
    const database = describeChoice(choice);
    if (values.json) {
      const settings = { timezone: store.timezone, barTimestamp: store.barTimestamp, calendar: store.calendar };
      console.log(JSON.stringify({ database, backend: store.backend, settings, symbols, cache }));
      return EXIT_OK;
    }
    const cached = new Map(cache.map((entry) => [entry.symbol, entry]));
    const names = [...new Set([...symbols.map((row) => row.symbol), ...cache.map((entry) => entry.symbol)])].sort();
    const zone = values.utc ? null : store.timezone;
    console.log(`database ${database} (timezone ${store.timezone}, bars stamped at the ${store.barTimestamp}, calendar ${store.calendar ?? "none"})`);
    if (names.length === 0) {
      console.log("no bars stored yet");
      return EXIT_OK;
    }
    const header = ["symbol", "bars", "first", "last", ...(counts ? ["expected", "missing"] : []), "daily bars", "first day", "last day", "cache rows", "cache size", "last compaction"];
    const rows = names.map((name) => {
      const stored = symbols.find((row) => row.symbol === name);
      const entry = cached.get(name);
      return [
        name,
        stored ? formatNumber(stored.count) : "-",
        stored ? formatTime(stored.start, zone) : "-",
        stored ? formatTime(stored.end, zone) : "-",
        ...(counts ? [stored?.expected === undefined ? "-" : formatNumber(stored.expected), stored?.missing === undefined ? "-" : formatNumber(stored.missing)] : []),
        stored?.daily ? formatNumber(stored.daily.count) : "-",
        // A daily bar is its date's local midnight: shown as that date in the database's zone.
        stored?.daily ? localDate(stored.daily.start, store.timezone) : "-",
        stored?.daily ? localDate(stored.daily.end, store.timezone) : "-",
        entry ? formatNumber(entry.row_count) : "-",
        entry ? formatBytes(entry.size_bytes) : "-",
        entry ? formatTime(entry.last_compacted, zone) : "-",
      ];
    });
    const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
    const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
    console.log(line(header));
    for (const row of rows) console.log(line(row));
    const total = symbols.reduce((sum, row) => sum + row.count, 0);
    const days = symbols.reduce((sum, row) => sum + (row.daily?.count ?? 0), 0);
    console.log(`\n${names.length} symbols, ${formatNumber(total)} bars, ${days > 0 ? `${formatNumber(days)} daily bars, ` : ""}${cache.length} cache files`);
    return EXIT_OK;
  } finally {
    await store.close();
  }
}

export const overviewCommand: Command = { name: "overview", summary: "what is stored, per symbol (database and session cache)", usage: USAGE, options: OPTIONS, run };
