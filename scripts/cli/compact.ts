/** `tradelite compact [symbol | --all]`: compact session cache files now. */
import { assertCliSymbol, CliFailure, EXIT_OK, formatBytes, formatNumber, openCliCache, openCliStore, parseOptions, printSummary, STORE_OPTIONS, STORE_USAGE, storeChoice, text, UsageError, type Command } from "./shared.ts";

const USAGE = `usage: tradelite compact <symbol> | --all [--db PATH | --database-url URL] [--cache-dir DIR] [--json]

Compacts the session cache file of one symbol, or of every cached symbol: duplicates removed
(last write wins), sorted, cut to the retention window (45 days, 12,000 rows, 8 MiB). --json
prints { files: [{ symbol, rowsBefore, rowsAfter, bytesBefore, bytesAfter }] }.

${STORE_USAGE}`;

const OPTIONS = { all: { type: "boolean" }, ...STORE_OPTIONS, "cache-dir": { type: "string" }, json: { type: "boolean" } } as const;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, OPTIONS);
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (values.all ? positionals.length > 0 : positionals.length !== 1) throw new UsageError("name one symbol, or pass --all");
  if (!values.all) assertCliSymbol(positionals[0]!);
  const choice = storeChoice(values);
  const store = await openCliStore(choice, { existing: true });
  try {
    const cache = openCliCache(store, text(values, "cache-dir"));
    const symbols = values.all ? (await cache.list()).map((entry) => entry.symbol) : [positionals[0]!];
    // Compacting a symbol the cache does not hold would create its file: refused instead.
    for (const symbol of symbols) if ((await cache.stats(symbol)) === null) throw new CliFailure(`the session cache holds no ${symbol} (${cache.settings.dir})`);
    const totals = { rowsBefore: 0, rowsAfter: 0, bytesBefore: 0, bytesAfter: 0 };
    const files = [];
    for (const symbol of symbols) {
      const result = await cache.compact(symbol);
      files.push({ symbol, ...result });
      if (!values.json) console.log(`${symbol}: ${formatNumber(result.rowsBefore)} -> ${formatNumber(result.rowsAfter)} rows, ${formatBytes(result.bytesBefore)} -> ${formatBytes(result.bytesAfter)}`);
      for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += result[key];
    }
    if (values.json) {
      console.log(JSON.stringify({ files }));
      return EXIT_OK;
    }
    printSummary("compaction done", [
      ["files", symbols.length],
      ["rows", `${formatNumber(totals.rowsBefore)} -> ${formatNumber(totals.rowsAfter)}`],
      ["bytes", `${formatBytes(totals.bytesBefore)} -> ${formatBytes(totals.bytesAfter)}`],
    ]);
    return EXIT_OK;
  } finally {
    await store.close();
  }
}

export const compactCommand: Command = { name: "compact", summary: "compact session cache files now", usage: USAGE, options: OPTIONS, run };
