/**
 * A second process writing bars for the watch tests: `bun test/support/watch-writer.ts JSON`.
 * - `{ mode: "bars", store, symbols, count, t0 }`: opens the store (openStore options) and writes
 *   `count` one-bar batches to each symbol in turn, minute after minute from t0, then prints "done".
 * - `{ mode: "hold", path | url, symbol, count, t0 }`: inserts `count` bars in one transaction on a
 *   raw connection (bun:sqlite or Bun.SQL), prints "inside" and sleeps without committing, so a
 *   test can kill -9 it mid-batch.
 */
import { Database as SqliteDatabase } from "bun:sqlite";
import { SQL } from "bun";
import { openStore, type StoreOptions } from "../../src/mod.ts";

const MINUTE = 60_000;
const job = JSON.parse(process.argv[2]!) as {
  mode: "bars" | "hold";
  store?: StoreOptions;
  path?: string;
  url?: string;
  symbols?: string[];
  symbol?: string;
  count: number;
  t0: number;
};

const bar = (timestamp: number, i: number) => ({ timestamp, open: 10 + i, high: 11 + i, low: 9 + i, close: 10.5 + i, volume: 100 + i });

if (job.mode === "bars") {
  const store = await openStore(job.store!);
  for (let i = 0; i < job.count; i++) {
    for (const symbol of job.symbols!) await store.insertBars(symbol, [bar(job.t0 + i * MINUTE, i)]);
  }
  await store.close();
  console.log("done");
} else if (job.path !== undefined) {
  const raw = new SqliteDatabase(job.path);
  raw.run("PRAGMA busy_timeout = 5000");
  raw.run("BEGIN IMMEDIATE");
  const insert = raw.prepare("INSERT INTO market_data (symbol, timestamp, open, high, low, close, volume) VALUES (?, ?, 1, 2, 0.5, 1.5, 10)");
  for (let i = 0; i < job.count; i++) insert.run(job.symbol!, job.t0 + i * MINUTE);
  console.log("inside");
  await Bun.sleep(600_000);
} else {
  const sql = new SQL({ url: job.url!, max: 1 });
  await sql.begin(async (tx) => {
    await tx`INSERT INTO market_data (symbol, timestamp, open, high, low, close, volume)
             SELECT ${job.symbol!}, ${job.t0}::bigint + g * ${MINUTE}::bigint, 1, 2, 0.5, 1.5, 10 FROM generate_series(0, ${job.count - 1}) AS g`;
    console.log("inside");
    await Bun.sleep(600_000);
  });
}
