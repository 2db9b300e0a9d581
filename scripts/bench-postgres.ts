/**
 * `bun run bench:postgres [--quick]`: the PostgreSQL bar path against bare Bun.SQL doing the same
 * work, in the same run, on the server $TRADELITE_BENCH_POSTGRES_URL names (default
 * postgres://postgres@127.0.0.1:5432/postgres; the benchmark creates its own databases there and
 * drops them). Beside it, SQLite's figures for the same rows, and the migration's rate.
 *
 * - Bulk insert: 1,000,000 bars (100 symbols x 10,000; --quick: 10x fewer) in 10,000-row batches
 *   through the postgres Store (validation, the upsert, the cache version bump and the audit
 *   entry, in one transaction), against the bare statement: the same `unnest` upsert, built from
 *   the same columns. Target >= 0.8 of the bare rows/s.
 * - One-day reads: 240-bar windows of a random symbol and day, against the bare SELECT of the
 *   same rows. Target >= 0.8.
 * - Session cache: one-bar storeBars calls with write-through over the postgres Store, p50 and
 *   p99, against a bare one-row upsert in a transaction plus the append of the same line.
 * Rounds alternate between the two sides; figures are medians. A missed target prints MISSED and
 * the script still exits 0 (the machine is shared and noisy; the figures are the record).
 */
import { SQL } from "bun";
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { copySqliteToPostgres } from "../src/entries/migrate.ts";
import { openDatabase, openStore } from "../src/mod.ts";
import { PostgresPool } from "../src/entries/postgres.ts";
import { SessionCache } from "../src/entries/cache.ts";
import { formatRate, median, percentile } from "./bench-support.ts";
import { createScratchDatabase, type ScratchDatabase } from "./postgres-scratch.ts";
import { randomWalk, sessionTimestamps, type MinuteBarColumns } from "./synthetic-bars.ts";

const ADMIN_URL = process.env.TRADELITE_BENCH_POSTGRES_URL || "postgres://postgres@127.0.0.1:5432/postgres";
const quick = process.argv.includes("--quick");
const SYMBOLS = quick ? 10 : 100;
const BARS_PER_SYMBOL = 10_000;
const BATCH = 10_000;
const ROUNDS = 3;
const READS = quick ? 300 : 2_000;
const TARGET = 0.8;
const CACHE_CALLS = quick ? 100 : 500;

function createDatabase(label: string): Promise<ScratchDatabase> {
  return createScratchDatabase(ADMIN_URL, `tradelite_bench_${label}_${process.pid}`);
}

const series: MinuteBarColumns[] = Array.from({ length: SYMBOLS }, (_, s) => randomWalk(sessionTimestamps("2024-01-02", BARS_PER_SYMBOL), 100 + s));
const symbolOf = (s: number) => `BENCH${String(s).padStart(3, "0")}`;

/** The bare side: the same unnest upsert, one statement per batch, arrays from the same columns. */
async function bareInsert(sql: SQL, symbol: string, bars: MinuteBarColumns, from: number, to: number): Promise<void> {
  const pick = (column: Float64Array) => Array.from(column.subarray(from, to));
  await sql.begin(
    (tx) => tx`
      INSERT INTO market_data (symbol, timestamp, open, high, low, close, volume, amount)
      SELECT ${symbol}, t.timestamp, t.open, t.high, t.low, t.close, t.volume, t.amount
      FROM unnest(${pick(bars.timestamp)}::bigint[], ${pick(bars.open)}::float8[], ${pick(bars.high)}::float8[], ${pick(bars.low)}::float8[],
                  ${pick(bars.close)}::float8[], ${pick(bars.volume)}::float8[], ${pick(bars.amount)}::float8[])
           AS t(timestamp, open, high, low, close, volume, amount)
      ON CONFLICT (symbol, timestamp) DO UPDATE SET
        open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
        volume = excluded.volume, amount = excluded.amount`,
  );
}

function slice(bars: MinuteBarColumns, from: number, to: number): MinuteBarColumns {
  const cut = (column: Float64Array) => column.subarray(from, to);
  return { timestamp: cut(bars.timestamp), open: cut(bars.open), high: cut(bars.high), low: cut(bars.low), close: cut(bars.close), volume: cut(bars.volume), amount: cut(bars.amount) };
}

async function main(): Promise<void> {
  const rows = SYMBOLS * BARS_PER_SYMBOL;
  console.log(`tradelite bench:postgres${quick ? " (--quick)" : ""}: ${SYMBOLS} symbols x ${BARS_PER_SYMBOL.toLocaleString("en-US")} bars, batches of ${BATCH.toLocaleString("en-US")}, ${ROUNDS} rounds`);
  const target = await createDatabase("target");
  const pool = new PostgresPool({ url: target.url, max: 2 });
  const workDir = mkdtempSync(join(tmpdir(), "tradelite-bench-pg-"));
  try {
    // The store migrates the schema on open.
    const repository = await openStore({ backend: "postgres", url: target.url, max: 2 });
    const insertRates = { tradelite: [] as number[], bare: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const side of round % 2 === 0 ? (["bare", "tradelite"] as const) : (["tradelite", "bare"] as const)) {
        await pool.sql`TRUNCATE market_data`;
        await pool.sql`VACUUM market_data`;
        const started = performance.now();
        for (let s = 0; s < SYMBOLS; s++) {
          for (let from = 0; from < BARS_PER_SYMBOL; from += BATCH) {
            const to = Math.min(BARS_PER_SYMBOL, from + BATCH);
            if (side === "bare") await bareInsert(pool.sql, symbolOf(s), series[s]!, from, to);
            else await repository.insertBars(symbolOf(s), slice(series[s]!, from, to));
          }
        }
        insertRates[side].push(rows / ((performance.now() - started) / 1000));
      }
    }

    // One-day reads over the rows the last round left, with the planner's statistics up to date
    // (as autovacuum would have them; right after a TRUNCATE and a reload they say "empty").
    await pool.sql`ANALYZE market_data`;
    const days = Math.floor(BARS_PER_SYMBOL / 240);
    const windows = Array.from({ length: READS }, (_, i) => {
      const s = (i * 7919) % SYMBOLS;
      const day = (i * 104_729) % days;
      const first = series[s]!.timestamp[day * 240]!;
      return { symbol: symbolOf(s), start: first, end: series[s]!.timestamp[day * 240 + 239]! };
    });
    const readRates = { tradelite: [] as number[], bare: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const side of round % 2 === 0 ? (["bare", "tradelite"] as const) : (["tradelite", "bare"] as const)) {
        let read = 0;
        const started = performance.now();
        for (const { symbol, start, end } of windows) {
          if (side === "bare") {
            read += (await pool.sql`SELECT timestamp::float8 AS timestamp, open, high, low, close, volume, amount FROM market_data
                WHERE symbol = ${symbol} AND timestamp BETWEEN ${start}::bigint AND ${end}::bigint ORDER BY market_data.timestamp`).length;
          } else {
            read += (await repository.getBars(symbol, { start, end })).length;
          }
        }
        if (read !== READS * 240) throw new Error(`the ${side} reads returned ${read} rows, not ${READS * 240}`);
        readRates[side].push(read / ((performance.now() - started) / 1000));
      }
    }

    // The session cache over PostgreSQL: one-bar storeBars calls with write-through, awaited one
    // by one (a recorder's pace), against the bare work: the same one-row upsert in its own
    // transaction, then appendFileSync of the same line. Figures for the record, no target.
    const cache = new SessionCache({ store: repository, dir: join(workDir, "cache"), compactEvery: Number.MAX_SAFE_INTEGER });
    const bareFile = join(workDir, "bare.csv");
    const cacheBar = (i: number) => ({ timestamp: Date.UTC(2030, 0, 2, 1, 30) + i * 60_000, open: 10, high: 11, low: 9, close: 10.5, volume: 100 + i, amount: 1_000 + i });
    const cacheLatency = { tradelite: [] as number[], bare: [] as number[] };
    for (let i = 0; i < 20; i++) await cache.storeBars("CACHE", [cacheBar(i)]);
    for (let i = 20; i < 20 + CACHE_CALLS; i++) {
      let started = performance.now();
      await cache.storeBars("CACHE", [cacheBar(i)]);
      cacheLatency.tradelite.push(performance.now() - started);
      const bar = cacheBar(i);
      started = performance.now();
      await pool.sql.begin(
        (tx) => tx`INSERT INTO market_data (symbol, timestamp, open, high, low, close, volume, amount)
                   VALUES ('BARE', ${bar.timestamp}::bigint, ${bar.open}, ${bar.high}, ${bar.low}, ${bar.close}, ${bar.volume}, ${bar.amount})
                   ON CONFLICT (symbol, timestamp) DO UPDATE SET open = excluded.open, high = excluded.high, low = excluded.low,
                     close = excluded.close, volume = excluded.volume, amount = excluded.amount`,
      );
      appendFileSync(bareFile, `${new Date(bar.timestamp).toISOString()},${bar.open},${bar.high},${bar.low},${bar.close},${bar.volume},${bar.amount}\n`);
      cacheLatency.bare.push(performance.now() - started);
    }

    // SQLite beside it: the same rows through the embedded store, and then the migration's rate.
    const sqlitePath = join(workDir, "bench.db");
    const db = openDatabase({ path: sqlitePath });
    let sqliteInsert = 0;
    let sqliteRead = 0;
    try {
      const started = performance.now();
      for (let s = 0; s < SYMBOLS; s++) {
        for (let from = 0; from < BARS_PER_SYMBOL; from += BATCH) db.insertBars(symbolOf(s), slice(series[s]!, from, Math.min(BARS_PER_SYMBOL, from + BATCH)));
      }
      sqliteInsert = rows / ((performance.now() - started) / 1000);
      let read = 0;
      const readStarted = performance.now();
      for (const { symbol, start, end } of windows) read += db.getBars(symbol, { start, end }).length;
      sqliteRead = read / ((performance.now() - readStarted) / 1000);
    } finally {
      db.close();
    }
    const migrated = await createDatabase("migrate");
    const migratePool = new PostgresPool({ url: migrated.url, max: 2 });
    let migrateRate = 0;
    try {
      const copy = await copySqliteToPostgres(sqlitePath, migratePool, { batchRows: BATCH });
      migrateRate = copy.rows / (copy.durationMs / 1000);
    } finally {
      await migratePool.close();
      await migrated.drop();
    }

    const ratio = (side: { tradelite: number[]; bare: number[] }) => median(side.tradelite) / median(side.bare);
    const verdict = (value: number) => (value >= TARGET ? "met" : "MISSED");
    console.log("");
    console.log(`bulk insert      tradelite ${formatRate(median(insertRates.tradelite))} rows/s, bare unnest ${formatRate(median(insertRates.bare))} rows/s: ${ratio(insertRates).toFixed(2)} (target >= ${TARGET}: ${verdict(ratio(insertRates))})`);
    console.log(`one-day reads    tradelite ${formatRate(median(readRates.tradelite))} rows/s, bare select ${formatRate(median(readRates.bare))} rows/s: ${ratio(readRates).toFixed(2)} (target >= ${TARGET}: ${verdict(ratio(readRates))})`);
    const ms = (value: number) => `${value.toFixed(3)} ms`;
    for (const p of [50, 99]) {
      const [ours, bare] = [percentile(cacheLatency.tradelite, p), percentile(cacheLatency.bare, p)];
      console.log(`cache storeBars  1 bar, write-through, p${p}: tradelite ${ms(ours)}, bare upsert + append ${ms(bare)}: ${(ours / bare).toFixed(2)}x`);
    }
    console.log(`SQLite beside    insert ${formatRate(sqliteInsert)} rows/s, one-day reads ${formatRate(sqliteRead)} rows/s`);
    console.log(`migrate          ${formatRate(migrateRate)} rows/s (SQLite file of ${rows.toLocaleString("en-US")} bars into a fresh PostgreSQL database)`);
    await repository.close();
  } finally {
    await pool.close();
    await target.drop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

await main();
