/**
 * A demo database for the data browser's tests: the real TDX export of the Shanghai index
 * (24,000 one-minute bars, naive Asia/Shanghai times stamped at the bar's end; it follows the
 * Shanghai exchange's calendar, with two gaps cut into it for the completeness strip) beside three
 * synthetic A-share series on the exchange's session minutes, a 24-hour market (bars across
 * midnight), and a session cache holding the
 * last days of one of them (so the overview's cache columns have something to show).
 */
import { barObjects, randomWalk, sessionTimestamps, sliceColumns } from "../../scripts/synthetic-bars.ts";
import { openDatabase } from "../../src/mod.ts";
import { SessionCache } from "../../src/cache/session-cache.ts";
import { createSqliteStore } from "../../src/sqlite/store.ts";
import { readTdxBars, TDX_INDEX_1MIN } from "./real-data-tdx.ts";

export const DEMO_TIMEZONE = "Asia/Shanghai";
/** The synthetic symbols and their sizes (20 trading days of 240 minutes, and fewer). */
export const DEMO_SYNTHETIC: readonly { symbol: string; minutes: number; seed: number }[] = [
  { symbol: "600519.SH", minutes: 20 * 240, seed: 11 },
  { symbol: "000858.SZ", minutes: 12 * 240, seed: 12 },
  { symbol: "601318.SH", minutes: 3 * 240, seed: 13 },
];
export const DEMO_REAL_SYMBOL = "000001.SH";
/** The calendar the real index is assigned; the synthetic symbols have none (the database no default). */
export const DEMO_REAL_CALENDAR = "XSHG";
/**
 * Bars deleted from the real index, inside the strip's window (the export ends 2023-05-18): half
 * an hour of one day, 10:01 to 10:30 by their end stamps (six whole 5-minute bars), and the whole
 * of another trading day.
 */
export const DEMO_REAL_GAPS = {
  partial: { date: "2023-04-20", start: "2023-04-20 10:01", end: "2023-04-20 10:30", minutes: 30 },
  empty: { date: "2023-05-10", start: "2023-05-10 09:31", end: "2023-05-10 15:00", minutes: 240 },
} as const;
/** A market that trades around the clock: minute bars across midnight, stamped at their end. */
export const DEMO_ALLDAY = { symbol: "BTC-USDT", days: 3, first: Date.parse("2024-03-01T00:01:00+08:00") };
export const DEMO_CACHED_SYMBOL = "600519.SH";

/** Writes the demo data into a new database at `path` and a cache folder at `cacheDir`. */
export async function writeDemoDatabase(path: string, cacheDir: string): Promise<void> {
  const db = openDatabase({ path, timezone: DEMO_TIMEZONE, barTimestamp: "end" });
  try {
    db.insertBars(DEMO_REAL_SYMBOL, await readTdxBars(TDX_INDEX_1MIN));
    db.calendars.assign(DEMO_REAL_SYMBOL, DEMO_REAL_CALENDAR);
    for (const gap of Object.values(DEMO_REAL_GAPS)) {
      const deleted = db.deleteBars(DEMO_REAL_SYMBOL, { start: gap.start, end: gap.end });
      if (deleted !== gap.minutes) throw new Error(`the demo gap on ${gap.date} took ${deleted} bars, not ${gap.minutes}`);
    }
    for (const { symbol, minutes, seed } of DEMO_SYNTHETIC) {
      db.insertBars(symbol, randomWalk(sessionTimestamps("2024-03-01", minutes), seed));
    }
    const minutes = DEMO_ALLDAY.days * 1_440;
    db.insertBars(DEMO_ALLDAY.symbol, randomWalk(Float64Array.from({ length: minutes }, (_, i) => DEMO_ALLDAY.first + i * 60_000), 14));
    const cache = new SessionCache({ store: createSqliteStore(db), dir: cacheDir });
    const cached = DEMO_SYNTHETIC.find((entry) => entry.symbol === DEMO_CACHED_SYMBOL)!;
    const columns = randomWalk(sessionTimestamps("2024-03-01", cached.minutes), cached.seed);
    await cache.storeBars(DEMO_CACHED_SYMBOL, barObjects(sliceColumns(columns, cached.minutes - 480, cached.minutes)));
    await cache.compact(DEMO_CACHED_SYMBOL);
  } finally {
    db.close();
  }
}
