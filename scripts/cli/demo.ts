/**
 * `tradelite demo`: a realistic A-share data folder to look at. Five symbols, minute bars on the
 * exchange's sessions (09:30-11:30 and 13:00-15:00 Asia/Shanghai, stamped at the minute's end as
 * Chinese terminals do) for a few weeks of weekdays, a random walk in whole fen with volume in
 * board lots and an amount that is the volume times a price inside the bar. The bars arrive as a
 * live recorder would send them, one minute at a time through the session cache (which compacts
 * every 240 writes and writes through to the database); then every file is compacted, the
 * overview printed, and the server started with three curl commands that work against it.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { mulberry32, sessionTimestamps, SESSION_MINUTES_PER_DAY, SHANGHAI_OFFSET_MS } from "../synthetic-bars.ts";
import type { BarInput, Store } from "../../src/mod.ts";
import { overviewCommand } from "./overview.ts";
import { serve } from "./serve.ts";
import { CliFailure, describeChoice, EXIT_FAILURE, EXIT_OK, openCliCache, openCliStore, parseOptions, printSummary, Progress, storeChoice, text, UsageError, type Command, type StoreChoice } from "./shared.ts";

const USAGE = `usage: tradelite demo [--dir DIR] [--days N] [--utc] [--no-serve] [--database-url URL]

Generates five A-share symbols of minute bars (default 15 trading days ending yesterday) into a
fresh folder (default ./data/demo: trading.db and session_cache/), through the session cache,
compacts, prints the overview, then serves it (Asia/Shanghai, end-stamped bars) and prints three
curl commands to try. Times are printed in Asia/Shanghai with the offset (--utc: in UTC).
--no-serve stops after the overview. A folder that already holds a
trading.db is left alone (exit 1): remove it or choose another --dir.
--database-url URL writes the bars into that PostgreSQL database instead (it must hold no bars;
the session cache's files stay in DIR/session_cache).`;

/** The demo's symbols and their opening prices in fen (0.01 CNY). */
export const DEMO_SYMBOLS: readonly { symbol: string; fen: number }[] = [
  { symbol: "600519.SH", fen: 168_000 },
  { symbol: "000858.SZ", fen: 14_800 },
  { symbol: "601318.SH", fen: 4_450 },
  { symbol: "300750.SZ", fen: 18_200 },
  { symbol: "000001.SZ", fen: 1_050 },
];

/** The first of `days` weekdays ending with the weekday before `today` (YYYY-MM-DD, Shanghai). */
function firstDay(days: number, today = Date.now()): string {
  let date = Math.floor((today + SHANGHAI_OFFSET_MS) / 86_400_000) * 86_400_000;
  for (let found = 0; found < days; ) {
    date -= 86_400_000;
    const weekday = new Date(date).getUTCDay();
    if (weekday !== 0 && weekday !== 6) found++;
  }
  return new Date(date).toISOString().slice(0, 10);
}

/** One symbol's bars: a random walk in whole fen; amount = volume x a price within the bar. */
export function demoBars(timestamps: Float64Array, startFen: number, seed: number): BarInput[] {
  const random = mulberry32(seed);
  const bars: BarInput[] = [];
  let close = startFen;
  for (const timestamp of timestamps) {
    const open = close;
    close = Math.max(1, open + Math.round(open * (random() - 0.5) * 0.003));
    const high = Math.max(open, close) + Math.floor(random() * open * 0.0015);
    const low = Math.max(1, Math.min(open, close) - Math.floor(random() * open * 0.0015));
    const lots = 1 + Math.floor(random() * random() * 3_000);
    const volume = lots * 100;
    const average = low + (high - low) * random();
    bars.push({ timestamp, open: open / 100, high: high / 100, low: low / 100, close: close / 100, volume, amount: Math.round(volume * average) / 100 });
  }
  return bars;
}

const OPTIONS = { dir: { type: "string" }, days: { type: "string" }, utc: { type: "boolean" }, "no-serve": { type: "boolean" }, "database-url": { type: "string" } } as const;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, OPTIONS);
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (positionals.length > 0) throw new UsageError("demo takes options only");
  const daysText = text(values, "days") ?? "15";
  if (!/^\d{1,3}$/.test(daysText) || Number(daysText) < 1 || Number(daysText) > 250) throw new UsageError("--days is a number of trading days, 1 to 250");
  const dir = text(values, "dir") ?? join("data", "demo");
  const cacheDir = join(dir, "session_cache");
  // A fresh folder of its own, not $TRADELITE_DB: the demo never writes into a database in use.
  const choice: StoreChoice = values["database-url"] === undefined ? { backend: "sqlite", path: join(dir, "trading.db") } : storeChoice({ "database-url": values["database-url"] });
  if (choice.backend !== "postgres" && existsSync(choice.path)) {
    console.error(`tradelite demo: ${choice.path} already exists; remove ${dir} or pass --dir for a fresh folder`);
    return EXIT_FAILURE;
  }
  mkdirSync(dir, { recursive: true });

  const minutes = Number(daysText) * SESSION_MINUTES_PER_DAY;
  const timestamps = sessionTimestamps(firstDay(Number(daysText)), minutes);
  const series = DEMO_SYMBOLS.map(({ symbol, fen }, i) => ({ symbol, bars: demoBars(timestamps, fen, 1_000 + i) }));
  const store = await openCliStore(choice, { settings: { timezone: "Asia/Shanghai", barTimestamp: "end" } });
  const started = performance.now();
  let compactions = 0;
  try {
    await refuseStoredBars(store, choice);
    const cache = openCliCache(store, cacheDir);
    const progress = new Progress("demo", minutes * series.length, " bars");
    for (let minute = 0; minute < minutes; minute++) {
      for (const { symbol, bars } of series) {
        if ((await cache.storeBars(symbol, [bars[minute]!])).compacted) compactions++;
      }
      progress.update((minute + 1) * series.length);
    }
    progress.done();
    for (const { symbol } of series) await cache.compact(symbol);
  } finally {
    await store.close();
  }
  printSummary("demo data written", [
    ["folder", dir],
    ["database", describeChoice(choice)],
    ["symbols", series.length],
    ["bars", minutes * series.length],
    ["trading days", `${daysText} (from ${firstDay(Number(daysText))})`],
    ["compactions", `${compactions} on the way (every 240 writes), then one per file`],
    ["took", `${((performance.now() - started) / 1000).toFixed(1)} s`],
  ]);
  console.log("");
  const where = choice.backend === "postgres" ? ["--database-url", choice.url] : ["--db", choice.path];
  await overviewCommand.run([...where, "--cache-dir", cacheDir, ...(values.utc ? ["--utc"] : [])]);
  if (values["no-serve"]) return EXIT_OK;

  // The server reads the zone and the stamping from the database.
  const lastDay = new Date(timestamps[minutes - 1]! + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10);
  const auth = process.env.TRADELITE_TOKEN ? ` -H "Authorization: Bearer $TRADELITE_TOKEN"` : "";
  return serve({ choice: choice.backend === "postgres" ? choice : { backend: "sqlite-worker", path: choice.path }, cacheDir }, (url) => {
    console.log("\ntry:");
    console.log(`  curl -s${auth} ${url}/v1/info`);
    console.log(`  curl -s${auth} '${url}/v1/bars/600519.SH?interval=5m&start=${lastDay}&end=${lastDay}'`);
    console.log(`  curl -s${auth} '${url}/v1/bars/000858.SZ?format=csv&start=${lastDay.replaceAll("-", "")}&end=${lastDay.replaceAll("-", "")}'`);
    console.log(`and the data browser: ${url}/`);
  });
}

/** A database that already holds bars is someone's data: the demo writes only into an empty one. */
async function refuseStoredBars(store: Store, choice: StoreChoice): Promise<void> {
  if ((await store.overview()).length > 0) throw new CliFailure(`${describeChoice(choice)} already holds bars; the demo writes into an empty database`);
}

export const demoCommand: Command = { name: "demo", summary: "generate a realistic A-share demo folder and serve it", usage: USAGE, options: OPTIONS, run };
