/**
 * `bun run bench:scale [--sizes 1M,10M] [--keep DIR]`: stores of the whole market's shape
 * (5,000 A-share symbols, every symbol the same minutes) at each size, built on disk, and what
 * each operation costs as the store grows. Each size is built in one child process and measured in
 * another, so each peak RSS is that step's own. Figures, not targets: it prints and exits 0 (1 for a refused size).
 *
 * A store of N bars holds N / 5,000 session minutes per symbol on the shipped XSHG trading days
 * up to END_DATE. The last day is recorded live (one transaction per minute writing that minute's
 * bar of every symbol, as a recorder does), up to 240 minutes; the history before it, cut at the
 * front to fit N, is written one `insertBars` per symbol first. Both go through the library, so
 * whatever it keeps beside market_data (audit entries, and any summary a later version keeps)
 * is in the store as an app would have it.
 */
import { Database as SqliteDatabase } from "bun:sqlite";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { shippedCalendar } from "../src/domain/calendars/index.ts";
import { openDatabase, type Database } from "../src/mod.ts";
import { median, percentile, removeDatabaseFile } from "./bench-support.ts";
import { barObjects, mulberry32, randomWalk, sliceColumns, SESSION_MINUTES, SESSION_MINUTES_PER_DAY, SHANGHAI_OFFSET_MS } from "./synthetic-bars.ts";

export const MARKET_SYMBOLS = 5_000;
/** The live day is the last XSHG trading day up to here; the history is the days before it. */
const END_DATE = "2025-12-31";
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** Bumped when the builder changes what it writes, so a kept store of an older shape is rebuilt. */
const BUILD_VERSION = 1;
/**
 * Disk a size needs: history measured ~80 B/bar here, with room for the WAL; the live day's
 * 1.2M one-bar inserts add ~270 B/bar of audit log today (one entry per call), ~0.35 GB.
 */
const DISK_BYTES_PER_BAR = 100;
const DISK_BYTES_LIVE_DAY = 1e9;
/** Symbols whose history goes into one transaction: fewer commits, and the page cache stays warm. */
const SYMBOLS_PER_TRANSACTION = 10;

export interface ScaleShape {
  symbols: number;
  barsPerSymbol: number;
}

export interface BuildReport {
  historyBars: number;
  historySeconds: number;
  liveBars: number;
  liveMinutes: number;
  liveSeconds: number;
  /** Milliseconds each live minute's transaction (every symbol's bar) took. */
  minuteMs: number[];
}

/** Half the codes Shanghai main board from 600000.SH, half Shenzhen from 000001.SZ. */
export function marketSymbols(count: number): string[] {
  const shanghai = Math.ceil(count / 2);
  return Array.from({ length: count }, (_, i) => (i < shanghai ? `${600_000 + i}.SH` : `${String(1 + i - shanghai).padStart(6, "0")}.SZ`));
}

/** The session minutes (end-stamped epoch ms) of each symbol: history first, then the live day. */
export function scaleTimeline(barsPerSymbol: number): { history: Float64Array; live: Float64Array; days: string[] } {
  const liveCount = Math.min(SESSION_MINUTES_PER_DAY, barsPerSymbol);
  const historyCount = barsPerSymbol - liveCount;
  const all = shippedCalendar("XSHG")!.days.filter((day) => day <= END_DATE);
  const days = all.slice(all.length - 1 - Math.ceil(historyCount / SESSION_MINUTES_PER_DAY));
  const minutesOf = (day: string) => SESSION_MINUTES.map((minute) => Date.parse(`${day}T00:00:00Z`) - SHANGHAI_OFFSET_MS + minute * MINUTE_MS);
  const history = days.slice(0, -1).flatMap(minutesOf);
  return {
    history: Float64Array.from(history.slice(history.length - historyCount)),
    live: Float64Array.from(minutesOf(days.at(-1)!).slice(0, liveCount)),
    days,
  };
}

/** A database as the bench and its test open one: Shanghai time, end-stamped bars, XSHG days. */
export function openScaleDatabase(path: string): Database {
  return openDatabase({ path, timezone: "Asia/Shanghai", barTimestamp: "end", calendar: "XSHG" });
}

/**
 * Writes the store: calendars, each symbol's history, then the live day in minute order.
 * `onLiveMinute` runs after each live minute commits (the test checks the order with it).
 */
export function buildScaleStore(db: Database, shape: ScaleShape, onLiveMinute?: (timestamp: number) => void): BuildReport {
  const symbols = marketSymbols(shape.symbols);
  const { history, live } = scaleTimeline(shape.barsPerSymbol);
  db.transaction(() => {
    for (const symbol of symbols) if (symbol.endsWith(".SZ")) db.calendars.assign(symbol, "XSHE");
  });
  // The live day's walks are kept (~67 MB for 5,000 symbols), each its own seed: an overnight gap.
  const liveWalks = symbols.map((_, s) => randomWalk(live, 2_000_000 + s));
  let started = Bun.nanoseconds();
  for (let first = 0; first < symbols.length && history.length > 0; first += SYMBOLS_PER_TRANSACTION) {
    db.transaction(() => {
      for (let s = first; s < Math.min(first + SYMBOLS_PER_TRANSACTION, symbols.length); s++) db.insertBars(symbols[s]!, randomWalk(history, 1_000 + s));
    });
  }
  const historySeconds = (Bun.nanoseconds() - started) / 1e9;
  const minuteMs: number[] = [];
  started = Bun.nanoseconds();
  for (let m = 0; m < live.length; m++) {
    const minuteStarted = Bun.nanoseconds();
    db.transaction(() => {
      for (let s = 0; s < symbols.length; s++) db.insertBars(symbols[s]!, barObjects(sliceColumns(liveWalks[s]!, m, m + 1)));
    });
    minuteMs.push((Bun.nanoseconds() - minuteStarted) / 1e6);
    onLiveMinute?.(live[m]!);
  }
  return {
    historyBars: history.length * symbols.length,
    historySeconds,
    liveBars: live.length * symbols.length,
    liveMinutes: live.length,
    liveSeconds: (Bun.nanoseconds() - started) / 1e9,
    minuteMs,
  };
}

/** What --keep leaves beside a store: how it was built, for a later run that reuses it. */
interface BuildRecord {
  version: number;
  shape: ScaleShape;
  build: BuildReport;
  /** Missing in a record an earlier version of this script wrote. */
  peakRssMb?: number;
}

/** What one size measured; the parent prints these side by side. */
export interface ScaleResult {
  label: string;
  bars: number;
  build: BuildReport;
  liveBarsPerSecond: number;
  liveMinuteP50Ms: number;
  liveMinuteP99Ms: number;
  dayReadP50Ms: number;
  dayReadP99Ms: number;
  latestBarP50Ms: number;
  overviewMs: number;
  completenessAllMs: number;
  dailyAllYearsMs: number;
  /** The same read resampling every minute (`derived: false`), for contrast in the same run. */
  dailyOnTheFlyMs?: number;
  /** buildDerivedDays() on a kept store of an older version (0 when every symbol was built on write). */
  derivedBuildMs?: number;
  dailyBars: number;
  crossSectionMs: number | null;
  fileBytesPerBar: number;
  auditBytesPerBar: number | null;
  buildPeakRssMb: number | null;
  readPeakRssMb: number;
}

/** How often each read is repeated: latencies of the quick ones, medians of the slow ones. */
const QUICK_SAMPLES = 1_000;
const SLOW_SAMPLES = 5;
/** One-day reads at the largest size against the smallest (issue 20: >= 0.8 at 100M against 1M). */
const DAY_READ_TARGET = 0.8;

function msSince(started: number): number {
  return (Bun.nanoseconds() - started) / 1e6;
}

function samplesOf(count: number, read: (i: number) => unknown): number[] {
  read(0);
  return Array.from({ length: count }, (_, i) => {
    const started = Bun.nanoseconds();
    read(i);
    return msSince(started);
  });
}

/** The kernel's peak resident set (VmHWM) of this process, MiB. */
function peakRssMb(): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return match ? Number(match[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

/** Bytes of the audit log's pages (dbstat), or null when this SQLite lacks dbstat. */
function auditBytes(path: string): number | null {
  const sqlite = new SqliteDatabase(path, { readonly: true });
  try {
    return (sqlite.query("SELECT sum(pgsize) AS bytes FROM dbstat WHERE name LIKE 'audit%'").get() as { bytes: number }).bytes;
  } catch {
    return null;
  } finally {
    sqlite.close();
  }
}

type CrossSectionReader = { getCrossSection?: (query: { at: number }) => { rows: unknown[] } };

function pathsOf(label: string, dir: string) {
  return { path: join(dir, `scale-${label}.db`), recordPath: join(dir, `scale-${label}.build.json`) };
}

/** Builds the store of `bars` bars, unless --keep's DIR holds one of the same shape: the first child's work. */
function buildSize(label: string, bars: number, dir: string, keep: boolean): void {
  const shape = { symbols: MARKET_SYMBOLS, barsPerSymbol: bars / MARKET_SYMBOLS };
  const { path, recordPath } = pathsOf(label, dir);
  const kept = keep && existsSync(path) && existsSync(recordPath) ? (JSON.parse(readFileSync(recordPath, "utf8")) as BuildRecord) : null;
  if (kept && kept.version === BUILD_VERSION && kept.shape.barsPerSymbol === shape.barsPerSymbol && kept.shape.symbols === shape.symbols) {
    console.log(`${label}: reusing ${path} (built earlier; its build figures are from then)`);
    return;
  }
  removeDatabaseFile(path);
  console.log(`${label}: building ${bars.toLocaleString("en-US")} bars in ${path}`);
  const db = openScaleDatabase(path);
  let build: BuildReport;
  try {
    build = buildScaleStore(db, shape);
  } finally {
    db.close();
  }
  writeFileSync(recordPath, JSON.stringify({ version: BUILD_VERSION, shape, build, peakRssMb: peakRssMb() } satisfies BuildRecord));
  console.log(`  history ${build.historyBars.toLocaleString("en-US")} bars in ${build.historySeconds.toFixed(1)} s, live day ${build.liveBars.toLocaleString("en-US")} bars in ${build.liveSeconds.toFixed(1)} s`);
}

/** Measures the built store: the second child's work, in a process of its own so its peak RSS is the reads'. */
/** One random symbol's one random whole day, read through getBars. */
function oneDayRead(db: Database, barsPerSymbol: number, random: () => number): () => unknown {
  const symbols = marketSymbols(MARKET_SYMBOLS);
  const { history, live, days } = scaleTimeline(barsPerSymbol);
  const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)]!;
  // Whole days only: the first day is cut at the front when N / 5,000 is not whole days.
  const firstMinute = history.length > 0 ? history[0]! : live[0]!;
  const fullDays = days.map((day) => Date.parse(`${day}T00:00:00Z`) - SHANGHAI_OFFSET_MS).filter((midnight) => midnight + SESSION_MINUTES[0]! * MINUTE_MS >= firstMinute);
  const readDays = fullDays.length > 0 ? fullDays : [Date.parse(`${days.at(-1)}T00:00:00Z`) - SHANGHAI_OFFSET_MS];
  return () => {
    const midnight = pick(readDays);
    return db.getBars(pick(symbols), { start: midnight, end: midnight + DAY_MS - 1 });
  };
}

/**
 * The one-day reads of every kept store, interleaved read by read (so load on a shared machine
 * hits every size alike): each size's p50 and the largest's speed over the smallest's.
 */
function compareDayReads(sizes: readonly { label: string; bars: number }[], dir: string): string {
  const stores = sizes.map(({ label, bars }) => {
    const db = openScaleDatabase(pathsOf(label, dir).path);
    const read = oneDayRead(db, bars / MARKET_SYMBOLS, mulberry32(21));
    return { label, db, read: () => (read() as unknown[]).length, ms: [] as number[], rows: 0 };
  });
  try {
    for (let i = 0; i < QUICK_SAMPLES * 4; i++) {
      for (const store of stores) {
        const started = Bun.nanoseconds();
        store.rows += store.read();
        store.ms.push(msSince(started));
      }
    }
    // A store under a whole day a symbol (1M: 200 bars each) reads its one partial day: compare
    // rows a millisecond at the median too, the like-for-like figure.
    const p50 = stores.map((store) => percentile(store.ms, 50));
    const rowsPerMs = stores.map((store, i) => store.rows / store.ms.length / p50[i]!);
    const ratio = p50[0]! / p50.at(-1)!;
    const rowRatio = rowsPerMs.at(-1)! / rowsPerMs[0]!;
    return `one-day reads interleaved across the kept stores (${QUICK_SAMPLES * 4} each): p50 ${stores.map((store, i) => `${store.label} ${p50[i]!.toFixed(3)} ms (${(store.rows / store.ms.length).toFixed(0)} rows)`).join(", ")}; ` +
      `${stores.at(-1)!.label} at ${ratio.toFixed(2)} of ${stores[0]!.label}'s reads a second, ${rowRatio.toFixed(2)} of its rows a second (target >= ${DAY_READ_TARGET})`;
  } finally {
    for (const store of stores) store.db.close();
  }
}

function measureSize(label: string, bars: number, dir: string): ScaleResult {
  const shape = { symbols: MARKET_SYMBOLS, barsPerSymbol: bars / MARKET_SYMBOLS };
  const { path, recordPath } = pathsOf(label, dir);
  const record = JSON.parse(readFileSync(recordPath, "utf8")) as BuildRecord;
  const { build } = record;
  const fileBytes = statSync(path).size;
  const audit = auditBytes(path);

  const db = openScaleDatabase(path);
  try {
    const symbols = marketSymbols(shape.symbols);
    const { history, live } = scaleTimeline(shape.barsPerSymbol);
    const random = mulberry32(20);
    const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)]!;
    const dayReads = samplesOf(QUICK_SAMPLES, oneDayRead(db, shape.barsPerSymbol, random));
    const latest = samplesOf(QUICK_SAMPLES, () => db.latestBar(pick(symbols)));
    // O(symbols) since the summary (5,000 rows): as many repeats at every size.
    const overview = samplesOf(SLOW_SAMPLES * 4, () => db.overview());
    console.log(`  one-day read p50 ${percentile(dayReads, 50).toFixed(3)} ms, latestBar p50 ${percentile(latest, 50).toFixed(3)} ms, overview ${median(overview).toFixed(1)} ms`);
    const completenessStarted = Bun.nanoseconds();
    for (const { symbol } of db.overview()) db.completeness(symbol);
    const completenessAllMs = msSince(completenessStarted);
    // A store kept from a version before derived days builds them here, one symbol per transaction.
    const derivedStarted = Bun.nanoseconds();
    const derivedBuilt = typeof db.buildDerivedDays === "function" ? db.buildDerivedDays() : 0;
    const derivedBuildMs = derivedBuilt > 0 ? msSince(derivedStarted) : 0;
    let dailyBars = 0;
    const daily = samplesOf(SLOW_SAMPLES * 2, () => (dailyBars = db.getBars(pick(symbols), { interval: "1d" }).length));
    const dailyOnTheFly = samplesOf(SLOW_SAMPLES, () => db.getBars(pick(symbols), { interval: "1d", derived: false }).length);
    const reader = db as unknown as CrossSectionReader;
    const minutes = [...history, ...live];
    const crossSection = typeof reader.getCrossSection === "function" ? median(samplesOf(SLOW_SAMPLES * 2, () => reader.getCrossSection!({ at: pick(minutes) }).rows.length)) : null;
    const readPeakRssMb = peakRssMb();
    return {
      label,
      bars,
      build,
      // From the median minute: on a shared machine a few stalled minutes would set the mean.
      liveBarsPerSecond: (shape.symbols * 1000) / median(build.minuteMs),
      liveMinuteP50Ms: median(build.minuteMs),
      liveMinuteP99Ms: percentile(build.minuteMs, 99),
      dayReadP50Ms: percentile(dayReads, 50),
      dayReadP99Ms: percentile(dayReads, 99),
      latestBarP50Ms: percentile(latest, 50),
      overviewMs: median(overview),
      completenessAllMs,
      dailyAllYearsMs: median(daily),
      dailyOnTheFlyMs: median(dailyOnTheFly),
      derivedBuildMs,
      dailyBars,
      crossSectionMs: crossSection,
      fileBytesPerBar: fileBytes / bars,
      auditBytesPerBar: audit === null ? null : audit / bars,
      buildPeakRssMb: record.peakRssMb ?? null,
      readPeakRssMb,
    };
  } finally {
    db.close();
  }
}

/** A table row: its name, how to print a result's figure, and whether a larger figure is a cost. */
interface Row {
  name: string;
  value: (result: ScaleResult) => number | null;
  format: (value: number) => string;
  /** False for rates: a cost grows when the figure falls. */
  cost: boolean;
  /** Totals that grow with the work by definition (the build) are not named as growing. */
  total?: boolean;
}

const ms = (value: number) => (value < 10 ? value.toFixed(2) : Math.round(value).toLocaleString("en-US"));
const whole = (value: number) => Math.round(value).toLocaleString("en-US");

const ROWS: readonly Row[] = [
  { name: "build: history (s)", value: (r) => r.build.historySeconds, format: (v) => v.toFixed(1), cost: true, total: true },
  { name: "build: live day (s)", value: (r) => r.build.liveSeconds, format: (v) => v.toFixed(1), cost: true, total: true },
  { name: "live-order insert, median minute (bars/s)", value: (r) => r.liveBarsPerSecond, format: whole, cost: false },
  { name: "live minute, 5,000 bars, p50 (ms)", value: (r) => r.liveMinuteP50Ms, format: ms, cost: true },
  { name: "live minute, 5,000 bars, p99 (ms)", value: (r) => r.liveMinuteP99Ms, format: ms, cost: true },
  { name: "one-day read p50 (ms)", value: (r) => r.dayReadP50Ms, format: (v) => v.toFixed(3), cost: true },
  { name: "one-day read p99 (ms)", value: (r) => r.dayReadP99Ms, format: (v) => v.toFixed(3), cost: true },
  { name: "latestBar p50 (ms)", value: (r) => r.latestBarP50Ms, format: (v) => v.toFixed(3), cost: true },
  { name: "overview() (ms)", value: (r) => r.overviewMs, format: ms, cost: true },
  { name: "completeness --all (ms)", value: (r) => r.completenessAllMs, format: ms, cost: true },
  { name: "1d over all history (ms)", value: (r) => r.dailyAllYearsMs, format: ms, cost: true },
  { name: "1d over all history, on the fly (ms)", value: (r) => r.dailyOnTheFlyMs ?? null, format: ms, cost: true },
  { name: "cross-section, 5,000 symbols (ms)", value: (r) => r.crossSectionMs, format: ms, cost: true },
  { name: "file bytes per bar", value: (r) => r.fileBytesPerBar, format: (v) => v.toFixed(1), cost: true },
  { name: "of which audit log", value: (r) => r.auditBytesPerBar, format: (v) => v.toFixed(1), cost: true },
  { name: "peak RSS, build (MiB)", value: (r) => r.buildPeakRssMb, format: whole, cost: true },
  { name: "peak RSS, reads (MiB)", value: (r) => r.readPeakRssMb, format: whole, cost: true },
];

/** A figure that grows more than this between two sizes (10x the rows) is named as growing with them. */
const GROWTH_FLAG = 2;

export function scaleTable(results: readonly ScaleResult[]): string {
  const lines = [`| | ${results.map((r) => `${r.label} bars`).join(" | ")} |`, `|---|${results.map(() => "---:").join("|")}|`];
  for (const row of ROWS) {
    lines.push(`| ${row.name} | ${results.map((r) => (row.value(r) === null ? "n/a (not in this build)" : row.format(row.value(r)!))).join(" | ")} |`);
  }
  return lines.join("\n");
}

/** The figures that grew more than GROWTH_FLAG-fold between consecutive sizes, with their factors. */
export function growingCosts(results: readonly ScaleResult[]): string[] {
  const growing: string[] = [];
  for (const row of ROWS.filter((candidate) => !candidate.total)) {
    for (let i = 1; i < results.length; i++) {
      const before = row.value(results[i - 1]!);
      const after = row.value(results[i]!);
      if (before === null || after === null || before <= 0 || after <= 0) continue;
      const factor = row.cost ? after / before : before / after;
      if (factor > GROWTH_FLAG) growing.push(`${row.name} x${factor.toFixed(1)} from ${results[i - 1]!.label} to ${results[i]!.label}`);
    }
  }
  return growing;
}

/** "1M" -> 1,000,000; "200k" -> 200,000; a whole number of minutes per symbol or null. */
function parseSize(text: string): number | null {
  const match = /^(\d+)([kKmM]?)$/.exec(text.trim());
  if (!match) return null;
  const bars = Number(match[1]) * ({ k: 1e3, m: 1e6 }[match[2]!.toLowerCase() as "k" | "m"] ?? 1);
  return bars > 0 && bars % MARKET_SYMBOLS === 0 ? bars : null;
}

function freeBytes(dir: string): number {
  const stats = statfsSync(dir);
  return stats.bavail * stats.bsize;
}

const USAGE = `usage: bun run bench:scale [--sizes 1M,10M] [--keep DIR]
  --sizes  comma-separated store sizes in bars, multiples of ${MARKET_SYMBOLS.toLocaleString("en-US")} (1M, 10M, 100M, 200k ...); default 1M,10M.
           100M takes minutes and ~${((100e6 * DISK_BYTES_PER_BAR + DISK_BYTES_LIVE_DAY) / 1e9).toFixed(0)} GB of disk: only when asked.
  --keep   build the stores in DIR and leave them there; a later run with the same DIR reuses them.
           With --keep and several sizes, the one-day reads are also compared interleaved across the stores.`;

async function main(argv: string[]): Promise<number> {
  const child = argv.indexOf("--child");
  if (child >= 0) {
    const [step, label, bars, dir, last] = argv.slice(child + 1);
    if (step === "build") buildSize(label!, Number(bars), dir!, last === "keep");
    else if (step === "compare") console.log(`\n${compareDayReads(label!.split(",").map((size) => ({ label: size.split("=")[0]!, bars: Number(size.split("=")[1]) })), dir!)}`);
    else writeFileSync(last!, JSON.stringify(measureSize(label!, Number(bars), dir!)));
    return 0;
  }
  const option = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
  if (argv.includes("--help")) {
    console.log(USAGE);
    return 0;
  }
  const labels = (option("--sizes") ?? "1M,10M").split(",");
  const sizes = labels.map((label) => ({ label: label.trim(), bars: parseSize(label) }));
  const bad = sizes.filter((size) => size.bars === null);
  if (bad.length > 0) {
    console.error(`bench:scale: ${bad.map((size) => JSON.stringify(size.label)).join(", ")} is not a size in bars that is a multiple of ${MARKET_SYMBOLS}\n${USAGE}`);
    return 1;
  }
  const keepDir = option("--keep");
  const dir = keepDir ? resolve(keepDir) : mkdtempSync(join(tmpdir(), "tradelite-bench-scale-"));
  mkdirSync(dir, { recursive: true });
  try {
    // Checked up front. Without --keep a store is removed before the next is built, so the largest
    // must fit; with it every store stays, and one already in DIR needs nothing more.
    const toBuild = sizes.filter((size) => !(keepDir && existsSync(pathsOf(size.label, dir).path))).map((size) => size.bars! * DISK_BYTES_PER_BAR + DISK_BYTES_LIVE_DAY);
    const needed = toBuild.length === 0 ? 0 : keepDir ? toBuild.reduce((sum, bytes) => sum + bytes, 0) : Math.max(...toBuild);
    if (freeBytes(dir) < needed) {
      console.error(`bench:scale: the stores of ${labels.join(", ")} bars need ~${(needed / 1e9).toFixed(1)} GB free in ${dir}, and ${(freeBytes(dir) / 1e9).toFixed(1)} GB are; choose smaller --sizes or a --keep DIR on a larger disk`);
      return 1;
    }
    const results: ScaleResult[] = [];
    for (const { label, bars } of sizes) {
      const out = join(dir, `scale-${label}.result.json`);
      for (const step of [["build", keepDir ? "keep" : "drop"], ["measure", out]]) {
        const proc = Bun.spawn(["bun", import.meta.path, "--child", step[0]!, label, String(bars), dir, step[1]!], { stdout: "inherit", stderr: "inherit" });
        if ((await proc.exited) !== 0) {
          console.error(`bench:scale: the ${label} ${step[0]} failed (exit ${proc.exitCode})`);
          return 1;
        }
      }
      results.push(JSON.parse(readFileSync(out, "utf8")) as ScaleResult);
      rmSync(out);
      if (!keepDir) removeDatabaseFile(join(dir, `scale-${label}.db`));
    }
    console.log(`\nwhole-market stores: ${MARKET_SYMBOLS.toLocaleString("en-US")} symbols, the last day recorded live (one transaction per minute); medians, p50/p99 of ${QUICK_SAMPLES.toLocaleString("en-US")} reads\n`);
    console.log(scaleTable(results));
    const growing = growingCosts(results);
    console.log(`\ngrowing with the row count (more than ${GROWTH_FLAG}x between sizes): ${growing.length > 0 ? growing.join("; ") : "none"}`);
    if (keepDir && sizes.length > 1) {
      const proc = Bun.spawn(["bun", import.meta.path, "--child", "compare", sizes.map((size) => `${size.label}=${size.bars}`).join(","), "0", dir, "-"], { stdout: "inherit", stderr: "inherit" });
      if ((await proc.exited) !== 0) return 1;
    }
    return 0;
  } finally {
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
