/**
 * The Bun reader process for the soak: `bun test/support/reliability-reader.ts '<SoakSpec JSON>'`.
 * Opens the file read-only with openDatabase, prints `ready`, waits for the start file, then
 * for `seconds` reads through tradelite's own API (overview, getBars whole, by range, newest
 * first, resampled, latestBar) and checks what every writer guarantees at every instant:
 * - an own symbol is a prefix of whole batches: indices 0 .. count-1, count a multiple of the batch;
 * - SHARED holds, for each writer, a prefix of whole batches of that writer's indices;
 * - counts never go down;
 * - every row's values are the ones its timestamp determines (barAt), so no torn or mixed row.
 * Problems are collected as violations; an exception ends the process (stderr, exit 1).
 * The last stdout line is a ReaderSummary.
 */
import { existsSync, writeSync } from "node:fs";
import { openDatabase, type Bar } from "../../src/mod.ts";
import { seededRandom } from "./bars.ts";
import { barAt, indexOf, MINUTE, SHARED_SYMBOL, SOAK_BASE, type ReaderSummary, type SoakSpec } from "./reliability-soak.ts";

const FIELDS = ["timestamp", "open", "high", "low", "close", "volume", "amount"] as const;

if (import.meta.main) {
  const spec = JSON.parse(process.argv[2]!) as SoakSpec;
  const db = openDatabase({ path: spec.path, readonly: true });
  const random = seededRandom(77);
  const summary: ReaderSummary = { reads: 0, rows: 0, violations: [] };
  const violation = (text: string) => {
    if (summary.violations.length < 20) summary.violations.push(text);
  };
  const seen = new Map<string, number>();
  const checkRows = (symbol: string, bars: readonly Bar[], what: string) => {
    summary.rows += bars.length;
    for (const bar of bars) {
      const index = indexOf(bar.timestamp);
      const expected = barAt(index);
      const same = FIELDS.every((field) => bar[field] === expected[field]) && Object.keys(bar).length === FIELDS.length;
      if (!Number.isInteger(index) || !same) {
        violation(`${symbol} ${what}: row ${JSON.stringify(bar)} is not bar ${index}`);
        return;
      }
    }
  };
  const checkCount = (symbol: string, count: number, what: string) => {
    const before = seen.get(symbol) ?? 0;
    if (count < before) violation(`${symbol} ${what}: count went down from ${before} to ${count}`);
    if (count % spec.batchSize !== 0) violation(`${symbol} ${what}: ${count} rows is not a whole number of batches`);
    seen.set(symbol, Math.max(before, count));
  };
  /** A whole read: own symbols contiguous from 0; SHARED, per writer, contiguous from that writer's first index. */
  const checkWhole = (symbol: string, bars: readonly Bar[], what: string) => {
    checkRows(symbol, bars, what);
    checkCount(symbol, bars.length, what);
    const writers = symbol === SHARED_SYMBOL ? spec.writers : 1;
    const nextK = new Array<number>(writers).fill(0);
    for (let i = 0; i < bars.length; i++) {
      if (i > 0 && bars[i]!.timestamp <= bars[i - 1]!.timestamp) violation(`${symbol} ${what}: timestamps not ascending at ${i}`);
      const index = indexOf(bars[i]!.timestamp);
      const writer = index % writers;
      const k = (index - writer) / writers;
      if (k !== nextK[writer]) {
        violation(`${symbol} ${what}: writer ${writer}'s bar ${k} follows ${nextK[writer]! - 1} (a gap)`);
        return;
      }
      nextK[writer]!++;
    }
    for (const [writer, count] of nextK.entries()) {
      if (count % spec.batchSize !== 0) violation(`${symbol} ${what}: writer ${writer} has ${count} rows, not whole batches`);
    }
  };

  writeSync(1, "ready\n");
  while (!existsSync(spec.startFile)) await Bun.sleep(1);
  const deadline = performance.now() + spec.seconds * 1000;
  for (let pass = 0; performance.now() < deadline; pass++) {
    const overview = db.overview();
    summary.reads++;
    for (const { symbol, count, start, end } of overview) {
      checkCount(symbol, count, "overview");
      if (symbol !== SHARED_SYMBOL && (start !== SOAK_BASE || end !== SOAK_BASE + (count - 1) * MINUTE)) {
        violation(`overview ${symbol}: ${count} rows from ${start} to ${end} are not a prefix`);
      }
    }
    if (overview.length === 0) {
      await Bun.sleep(1);
      continue;
    }
    const { symbol, count } = overview[Math.floor(random() * overview.length)]!;
    const own = symbol !== SHARED_SYMBOL;
    switch (pass % 5) {
      case 0: {
        checkWhole(symbol, db.getBars(symbol), "getBars");
        break;
      }
      case 1: {
        // A range read: contiguous from its start, at least as long as the last count allows.
        const span = own ? count : count * spec.writers;
        const lo = Math.floor(random() * Math.max(span, 1));
        const hi = lo + 1 + Math.floor(random() * 500);
        const bars = db.getBars(symbol, { start: SOAK_BASE + lo * MINUTE, end: SOAK_BASE + hi * MINUTE });
        checkRows(symbol, bars, "range");
        if (own) {
          const indices = bars.map((bar) => indexOf(bar.timestamp));
          const contiguous = indices.every((index, i) => index === lo + i);
          if (!contiguous || indices.length < Math.min(hi + 1, count) - lo) {
            violation(`${symbol} range ${lo}..${hi}: ${indices.length} rows, not contiguous from ${lo} (count was ${count})`);
          }
        }
        break;
      }
      case 2: {
        const bars = db.getBars(symbol, { order: "desc", limit: 50 });
        checkRows(symbol, bars, "desc");
        if (own && bars.length > 0 && indexOf(bars[0]!.timestamp) < count - 1) {
          violation(`${symbol} desc: newest bar ${indexOf(bars[0]!.timestamp)} is older than the count ${count} said`);
        }
        const latest = db.latestBar(symbol);
        summary.reads++;
        if (latest === null) violation(`${symbol}: latestBar is null after the overview listed it`);
        else checkRows(symbol, [latest], "latestBar");
        break;
      }
      case 3: {
        // Resampled in SQL over bars already committed (they never change): the hourly volumes
        // must add up to the source bars' volumes exactly (they are integers).
        if (!own || count === 0) break;
        const hourly = db.getBars(symbol, { end: SOAK_BASE + (count - 1) * MINUTE, interval: "1h" });
        summary.rows += hourly.length;
        let expected = 0;
        for (let i = 0; i < count; i++) expected += barAt(i).volume;
        const total = hourly.reduce((sum, bar) => sum + (bar.volume ?? 0), 0);
        if (total !== expected) violation(`${symbol} 1h: volumes add up to ${total}, the ${count} bars hold ${expected}`);
        if (hourly[0]?.open !== barAt(0).open || hourly.at(-1)?.close !== barAt(count - 1).close) {
          violation(`${symbol} 1h: first open or last close is not the source bars'`);
        }
        break;
      }
      case 4: {
        let n = 0;
        for (const bar of db.iterateBars(symbol, { start: SOAK_BASE, end: SOAK_BASE + 20_000 * MINUTE })) {
          checkRows(symbol, [bar], "iterateBars");
          n++;
        }
        if (own && n < Math.min(count, 20_001)) violation(`${symbol} iterateBars: ${n} rows, fewer than the ${count} seen`);
        break;
      }
    }
    summary.reads++;
  }
  db.close();
  writeSync(1, `${JSON.stringify(summary)}\n`);
}
