/**
 * Several writers on one symbol's file (src/cache/session-cache.ts serializes them under the
 * database's BEGIN IMMEDIATE lock): two processes (Bun.spawn) and two instances in one process
 * appending concurrently with compactions interleaved, and a reader in another process while a
 * writer appends. The final row count is exact, the shared compaction counter fires exactly
 * every compactEvery writes overall, nothing is repaired, and the metadata is true.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SessionCache } from "../../src/cache/session-cache.ts";
import type { Bar, Database } from "../../src/mod.ts";
import type { CacheRecoveryEvent } from "../../src/domain/cache.ts";
import { createSqliteStore } from "../../src/sqlite/store.ts";
import { closeCacheFixtures, openCacheFixture } from "../support/cache-fixture.ts";
import { cacheFileBars, expectMetadataTrue, expectSameBars } from "../support/cache-invariants.ts";
import { latestOf } from "../support/cache-retention.ts";
import { spawnCacheWriter, writerBatch, type CacheWriterSpec } from "../support/cache-writer.ts";

const SYMBOL = "BTC/USDT";
const T0 = Date.UTC(2024, 0, 2, 1, 31);
const MINUTE = 60_000;
const WRITES_EACH = 100;
const COMPACT_EVERY = 7;

afterEach(closeCacheFixtures);

/** Ids 0..2n-1 split even/odd between two writers: their timestamps interleave. */
const evenIds = Array.from({ length: WRITES_EACH }, (_, i) => 2 * i);
const oddIds = Array.from({ length: WRITES_EACH }, (_, i) => 2 * i + 1);

describe("two processes appending to one symbol", () => {
  for (const writeThrough of [true, false]) {
    test(`${WRITES_EACH} storeBars calls each, compactEvery ${COMPACT_EVERY}: exact row count, one compaction per ${COMPACT_EVERY} writes overall, no error (writeThrough ${writeThrough})`, async () => {
      const fx = openCacheFixture({ compactEvery: COMPACT_EVERY, writeThrough });
      const startFile = join(fx.root, "go");
      const spec = (ids: number[]): CacheWriterSpec => ({
        dbPath: fx.dbPath,
        cacheDir: fx.cacheDir,
        symbol: SYMBOL,
        ids,
        batchSize: 1,
        base: T0,
        stepMs: MINUTE,
        compactEvery: COMPACT_EVERY,
        writeThrough,
        startFile,
        pauseMs: 1,
      });
      const writers = [spawnCacheWriter(spec(evenIds)), spawnCacheWriter(spec(oddIds))];
      // Both are connected and waiting before either writes.
      await Promise.all(writers.map((writer) => writer.waitForReady()));
      writeFileSync(startFile, "");
      const reports = await Promise.all(writers.map((writer) => writer.finished));
      for (const report of reports) {
        expect(report.stderr).toBe("");
        expect(report.exitCode).toBe(0);
        expect(report.done).toBe(true);
        expect(report.events).toEqual([]);
        expect(report.acks.length).toBe(WRITES_EACH);
      }
      expect(reports[0]!.acks).toEqual(evenIds);
      expect(reports[1]!.acks).toEqual(oddIds);
      // The two really ran at the same time: in acknowledgement order the writer changes often,
      // and each of them ran compactions.
      const order = reports.flatMap((report, writer) => report.ackTimes.map((time) => ({ time, writer }))).sort((a, b) => a.time - b.time);
      const switches = order.filter((ack, i) => i > 0 && ack.writer !== order[i - 1]!.writer).length;
      expect(switches).toBeGreaterThan(10);
      expect(reports[0]!.compactions).toBeGreaterThan(0);
      expect(reports[1]!.compactions).toBeGreaterThan(0);
      expect(reports[0]!.compactions + reports[1]!.compactions).toBe(Math.floor((2 * WRITES_EACH) / COMPACT_EVERY));

      const expected = latestOf(...[...evenIds, ...oddIds].map((id) => writerBatch(spec([]), id)));
      expect(expected.length).toBe(2 * WRITES_EACH);
      const row = await expectMetadataTrue(fx.cache, SYMBOL);
      expect(row.row_count).toBe(2 * WRITES_EACH);
      expect(row.writes_since_compaction).toBe((2 * WRITES_EACH) % COMPACT_EVERY);
      expectSameBars(await fx.cache.getBars(SYMBOL), expected);
      expectSameBars(latestOf(cacheFileBars(fx.cache, SYMBOL)), expected);
      if (writeThrough) expectSameBars(fx.db.getBars(SYMBOL), expected);
      expect(fx.events).toEqual([]);
    });
  }
});

/** A second SessionCache on the same Database object and folder. */
function sameDatabase(db: Database, dir: string): { cache: SessionCache; events: CacheRecoveryEvent[] } {
  const events: CacheRecoveryEvent[] = [];
  return { cache: new SessionCache({ store: createSqliteStore(db), dir, compactEvery: COMPACT_EVERY, onRecovery: (event) => events.push(event) }), events };
}

describe("two SessionCache instances in one process", () => {
  for (const shared of ["one Database", "two Database connections"]) {
    test(`alternating writes through ${shared}: exact row count and one compaction per ${COMPACT_EVERY} writes overall`, async () => {
      const fx = openCacheFixture({ compactEvery: COMPACT_EVERY });
      const second = shared === "one Database" ? sameDatabase(fx.db, fx.cacheDir) : fx.open();
      const spec = { batchSize: 3, base: T0, stepMs: MINUTE };
      // Each call runs to completion under the lock, so in one process "concurrent" means every
      // call finds the file as the other instance left it: the calls alternate between the two.
      const results = await Promise.all(
        Array.from({ length: 2 * WRITES_EACH }, (_, id) => (id % 2 === 0 ? fx.cache : second.cache).storeBars(SYMBOL, writerBatch(spec, id))),
      );
      expect(results.filter((result) => result.compacted).length).toBe(Math.floor((2 * WRITES_EACH) / COMPACT_EVERY));
      const expected = latestOf(...[...evenIds, ...oddIds].map((id) => writerBatch(spec, id)));
      for (const cache of [fx.cache, second.cache]) {
        const row = await expectMetadataTrue(cache, SYMBOL);
        expect(row.row_count).toBe(3 * 2 * WRITES_EACH);
        expectSameBars(await cache.getBars(SYMBOL), expected);
      }
      expectSameBars(fx.db.getBars(SYMBOL), expected);
      expect(fx.events).toEqual([]);
      expect(second.events).toEqual([]);
    });
  }
});

describe("a reader while another process writes", () => {
  test("every read (write-through on) is a whole number of acknowledged batches with the right values", async () => {
    const fx = openCacheFixture({ compactEvery: COMPACT_EVERY });
    const spec: CacheWriterSpec = {
      dbPath: fx.dbPath,
      cacheDir: fx.cacheDir,
      symbol: SYMBOL,
      ids: Array.from({ length: 300 }, (_, id) => id),
      batchSize: 4,
      base: T0,
      stepMs: MINUTE,
      compactEvery: COMPACT_EVERY,
      writeThrough: true,
      pauseMs: 1,
    };
    const expected = latestOf(...spec.ids.map((id) => writerBatch(spec, id)));
    const writer = spawnCacheWriter(spec);
    await writer.waitForAcks(1);
    let finished = false;
    void writer.finished.then(() => {
      finished = true;
    });
    let reads = 0;
    const wrong: string[] = [];
    while (!finished) {
      const acknowledged = writer.acks.length;
      const bars: Bar[] = await fx.cache.getBars(SYMBOL);
      reads++;
      if (bars.length % spec.batchSize !== 0) wrong.push(`read ${reads}: ${bars.length} bars`);
      if (bars.length < acknowledged * spec.batchSize) wrong.push(`read ${reads}: ${bars.length} bars after ${acknowledged} acks`);
      for (let i = 0; i < bars.length; i++) {
        if (!Bun.deepEquals(bars[i], expected[i], true)) {
          wrong.push(`read ${reads}: bar ${i} differs`);
          break;
        }
      }
      // Yield to the event loop so the child's exit is noticed.
      await Bun.sleep(0);
    }
    const report = await writer.finished;
    expect(report.exitCode).toBe(0);
    expect(report.events).toEqual([]);
    expect(wrong).toEqual([]);
    expect(reads).toBeGreaterThan(5);
    expectSameBars(await fx.cache.getBars(SYMBOL), expected);
    await expectMetadataTrue(fx.cache, SYMBOL);
  });
});
