/**
 * Self-repair of SessionCache (src/cache/session-cache.ts): files cut, extended, replaced or
 * deleted behind the cache's back, a temporary file left by an interrupted compaction, writes
 * to market_data made outside the cache, and real crashes (a writer process killed with
 * SIGKILL). Each case checks the recovery event reported, that no acknowledged bar is lost, and
 * that the metadata row is true again afterwards.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { RECOVERY_METRIC, SessionCache } from "../../src/cache/session-cache.ts";
import type { Bar } from "../../src/mod.ts";
import type { CacheRecoveryEvent } from "../../src/domain/cache.ts";
import { createSqliteStore } from "../../src/sqlite/store.ts";
import { randomBars, seededRandom } from "../support/bars.ts";
import { closeCacheFixtures, openCacheFixture, type CacheFixture, type CacheFixtureOptions } from "../support/cache-fixture.ts";
import {
  cacheDataLines,
  cacheFileBars,
  cacheFilePath,
  EXPECTED_CSV_HEADER,
  expectMetadataTrue,
  expectSameBars,
} from "../support/cache-invariants.ts";
import { csvLine, latestOf } from "../support/cache-retention.ts";
import { spawnCacheWriter, writerBatch, type CacheWriterSpec } from "../support/cache-writer.ts";

const SYMBOL = "600519.SH";
const MINUTE = 60_000;
const T0 = Date.UTC(2024, 0, 2, 1, 31);
const BATCHES = 5;
const BATCH_SIZE = 10;

afterEach(closeCacheFixtures);

function batch(id: number): Bar[] {
  return randomBars(Array.from({ length: BATCH_SIZE }, (_, k) => T0 + (id * BATCH_SIZE + k) * MINUTE), id + 1);
}

/** A fixture with BATCHES acknowledged storeBars calls; returns the bars they acknowledged. */
async function withAcknowledged(options: CacheFixtureOptions = {}): Promise<{ fx: CacheFixture; acknowledged: Bar[]; path: string }> {
  const fx = openCacheFixture({ compactEvery: 100, ...options });
  const writes: Bar[][] = [];
  for (let id = 0; id < BATCHES; id++) {
    writes.push(batch(id));
    await fx.cache.storeBars(SYMBOL, batch(id));
    await expectMetadataTrue(fx.cache, SYMBOL);
  }
  return { fx, acknowledged: latestOf(...writes), path: cacheFilePath(fx.cache, SYMBOL) };
}

/** The first use of the symbol by a cache: a read, or a write of one more batch. */
const FIRST_USES = {
  getBars: async (cache: SessionCache) => {
    await cache.getBars(SYMBOL);
    return [] as Bar[];
  },
  storeBars: async (cache: SessionCache) => {
    await cache.storeBars(SYMBOL, batch(BATCHES));
    return batch(BATCHES);
  },
} as const;

function event(kind: CacheRecoveryEvent["kind"], rows: number, droppedLines?: number) {
  return droppedLines === undefined
    ? { kind, symbol: SYMBOL, reason: expect.any(String), rows }
    : { kind, symbol: SYMBOL, reason: expect.any(String), rows, droppedLines };
}

describe("a last line cut in the middle (a crash mid-write, noticed by a new instance)", () => {
  for (const [use, firstUse] of Object.entries(FIRST_USES)) {
    test(`with write-through the file is rebuilt from market_data and every acknowledged bar is there (first use: ${use})`, async () => {
      const { fx, acknowledged, path } = await withAcknowledged();
      const lastLine = cacheDataLines(readFileSync(path, "utf8")).at(-1)!;
      truncateSync(path, readFileSync(path).length - Math.ceil(lastLine.length / 2));

      const { cache, events } = fx.open();
      const added = await firstUse(cache);
      const expected = latestOf(acknowledged, added);
      expect(events).toEqual([event("rebuilt-from-database", BATCHES * BATCH_SIZE)]);
      await expectMetadataTrue(cache, SYMBOL);
      expectSameBars(cacheFileBars(cache, SYMBOL), expected);
      expectSameBars(await cache.getBars(SYMBOL), expected);
    });
  }

  test("without write-through the partial line is dropped and every complete line is kept", async () => {
    const { fx, acknowledged, path } = await withAcknowledged({ writeThrough: false });
    const text = readFileSync(path, "utf8");
    const complete = text.slice(0, text.lastIndexOf("\n", text.length - 2) + 1);
    truncateSync(path, complete.length + 7);

    const { cache, events } = fx.open();
    const kept = acknowledged.slice(0, -1);
    expectSameBars(await cache.getBars(SYMBOL), kept);
    expect(events).toEqual([event("partial-line-dropped", kept.length, 1)]);
    await expectMetadataTrue(cache, SYMBOL);
    expect(readFileSync(path, "utf8")).toBe(complete);
  });

  test("a cut through the header, with write-through, is rebuilt too", async () => {
    const { fx, acknowledged, path } = await withAcknowledged();
    truncateSync(path, 10);
    const { cache, events } = fx.open();
    expectSameBars(await cache.getBars(SYMBOL), acknowledged);
    expect(events).toEqual([event("rebuilt-from-database", acknowledged.length)]);
    await expectMetadataTrue(cache, SYMBOL);
  });
});

describe("an unacknowledged tail (a crash between the append and the commit)", () => {
  for (const writeThrough of [true, false]) {
    test(`is cut off back to the committed size, by a new instance or the same one (writeThrough ${writeThrough})`, async () => {
      const { fx, acknowledged, path } = await withAcknowledged({ writeThrough });
      const committed = readFileSync(path);
      // Two whole lines of bars never acknowledged, then a third cut short.
      const tail = batch(BATCHES).slice(0, 3).map(csvLine).join("");
      appendFileSync(path, tail.slice(0, -20));

      const { cache, events } = fx.open({ writeThrough });
      expectSameBars(await cache.getBars(SYMBOL), acknowledged);
      expect(events).toEqual([event("unacknowledged-tail-dropped", acknowledged.length, 3)]);
      expect(readFileSync(path)).toEqual(committed);
      await expectMetadataTrue(cache, SYMBOL);

      // The instance that wrote the file notices the same thing on its next write.
      appendFileSync(path, csvLine(batch(BATCHES + 1)[0]!));
      await fx.cache.storeBars(SYMBOL, batch(BATCHES + 2));
      expect(fx.events).toEqual([event("unacknowledged-tail-dropped", acknowledged.length, 1)]);
      await expectMetadataTrue(fx.cache, SYMBOL);
      expectSameBars(await fx.cache.getBars(SYMBOL), latestOf(acknowledged, batch(BATCHES + 2)));
      expectSameBars(cacheFileBars(fx.cache, SYMBOL), latestOf(acknowledged, batch(BATCHES + 2)));
    });
  }
});

describe("a file replaced behind the cache's back is rebuilt from market_data", () => {
  const REPLACEMENTS: [string, (text: string, fx: CacheFixture) => string | Uint8Array][] = [
    ["one digit changed (same size)", (text) => {
      const at = text.lastIndexOf(",") + 1;
      return text.slice(0, at) + (text[at] === "1" ? "2" : "1") + text.slice(at + 1);
    }],
    ["binary garbage", () => Uint8Array.from({ length: 500 }, (_, i) => (i * 7919) % 256)],
    ["an empty file", () => ""],
    ["the header alone", () => `${EXPECTED_CSV_HEADER}\n`],
    ["valid lines of other bars", () => `${EXPECTED_CSV_HEADER}\n${batch(50).map(csvLine).join("")}`],
    ["the same lines, reordered", (text) => {
      const lines = cacheDataLines(text);
      return `${EXPECTED_CSV_HEADER}\n${[...lines].reverse().join("\n")}\n`;
    }],
  ];

  test.each(REPLACEMENTS)("%s: a new instance rebuilds it", async (_, replace) => {
    const { fx, acknowledged, path } = await withAcknowledged();
    writeFileSync(path, replace(readFileSync(path, "utf8"), fx));
    const { cache, events } = fx.open();
    expectSameBars(await cache.getBars(SYMBOL), acknowledged);
    expect(events).toEqual([event("rebuilt-from-database", acknowledged.length)]);
    await expectMetadataTrue(cache, SYMBOL);
    expectSameBars(cacheFileBars(cache, SYMBOL), acknowledged);
  });

  test("the instance that wrote the file notices on its next write, and its reads stay right meanwhile", async () => {
    const { fx, acknowledged, path } = await withAcknowledged();
    await fx.cache.getBars(SYMBOL);
    writeFileSync(path, `${EXPECTED_CSV_HEADER}\n${batch(50).map(csvLine).join("")}`);
    expectSameBars(await fx.cache.getBars(SYMBOL), acknowledged);
    await fx.cache.storeBars(SYMBOL, batch(BATCHES));
    expect(fx.events).toEqual([event("rebuilt-from-database", acknowledged.length)]);
    await expectMetadataTrue(fx.cache, SYMBOL);
    expectSameBars(cacheFileBars(fx.cache, SYMBOL), latestOf(acknowledged, batch(BATCHES)));
  });

  test("without write-through a garbage file is salvaged line by line and the dropped lines are counted", async () => {
    const { fx, acknowledged, path } = await withAcknowledged({ writeThrough: false });
    const lines = cacheDataLines(readFileSync(path, "utf8"));
    writeFileSync(path, `${EXPECTED_CSV_HEADER}\n${lines.slice(0, 20).join("\n")}\nnot,a,bar\n%%%\n${lines.slice(20).join("\n")}\n`);
    const { cache, events } = fx.open({ writeThrough: false });
    expectSameBars(await cache.getBars(SYMBOL), acknowledged);
    expect(events).toEqual([event("salvaged", acknowledged.length, 2)]);
    await expectMetadataTrue(cache, SYMBOL);
  });
});

describe("a temporary file left by an interrupted compaction", () => {
  for (const [use, firstUse] of Object.entries(FIRST_USES)) {
    test(`is removed on first use (${use}), the event is recorded and the data is intact`, async () => {
      const { fx, acknowledged, path } = await withAcknowledged();
      const before = readFileSync(path);
      // What a compaction killed before its rename leaves: half of a new file.
      writeFileSync(`${path}.tmp`, `${EXPECTED_CSV_HEADER}\n${acknowledged.slice(0, 3).map(csvLine).join("")}2024-01-`);

      const { cache, events } = fx.open();
      const added = await firstUse(cache);
      expect(existsSync(`${path}.tmp`)).toBe(false);
      expect(events).toEqual([event("temp-file-removed", acknowledged.length)]);
      await expectMetadataTrue(cache, SYMBOL);
      if (added.length === 0) expect(readFileSync(path)).toEqual(before);
      expectSameBars(await cache.getBars(SYMBOL), latestOf(acknowledged, added));
      expect(readdirSync(fx.cacheDir)).toEqual([`${SYMBOL}.csv`]);
    });
  }

  test("the instance that compacts notices a temporary file left by another before its own compaction", async () => {
    const { fx, acknowledged, path } = await withAcknowledged();
    writeFileSync(`${path}.tmp`, "garbage");
    await fx.cache.compact(SYMBOL);
    expect(existsSync(`${path}.tmp`)).toBe(false);
    expect(fx.events).toEqual([event("temp-file-removed", acknowledged.length)]);
    await expectMetadataTrue(fx.cache, SYMBOL);
    expectSameBars(cacheFileBars(fx.cache, SYMBOL), acknowledged);
  });
});

test("every repair is recorded as a recovery metric, with or without onRecovery", async () => {
  const { fx, path } = await withAcknowledged();
  writeFileSync(`${path}.tmp`, "garbage");
  const before = fx.db.metrics.summary(RECOVERY_METRIC).count;
  await new SessionCache({ store: createSqliteStore(fx.db), dir: fx.cacheDir }).getBars(SYMBOL);
  expect(existsSync(`${path}.tmp`)).toBe(false);
  const recorded = fx.db.metrics.query(RECOVERY_METRIC, { labels: { symbol: SYMBOL } });
  expect(recorded.length).toBe(before + 1);
  expect(recorded.at(-1)).toMatchObject({ value: 1, labels: { kind: "temp-file-removed", symbol: SYMBOL } });
});

describe("a deleted file", () => {
  for (const [use, firstUse] of Object.entries(FIRST_USES)) {
    test(`is rebuilt from market_data on first use (${use})`, async () => {
      const { fx, acknowledged, path } = await withAcknowledged();
      rmSync(path);
      const { cache, events } = fx.open();
      const added = await firstUse(cache);
      expect(events).toEqual([event("rebuilt-from-database", acknowledged.length)]);
      await expectMetadataTrue(cache, SYMBOL);
      expectSameBars(cacheFileBars(cache, SYMBOL), latestOf(acknowledged, added));
      expectSameBars(await cache.getBars(SYMBOL), latestOf(acknowledged, added));
    });
  }

  test("a deleted cache folder is recreated by a new instance and every file rebuilt", async () => {
    const { fx, acknowledged } = await withAcknowledged();
    rmSync(fx.cacheDir, { recursive: true });
    const { cache, events } = fx.open();
    expectSameBars(await cache.getBars(SYMBOL), acknowledged);
    expect(events).toEqual([event("rebuilt-from-database", acknowledged.length)]);
    await expectMetadataTrue(cache, SYMBOL);
  });
});

describe("market_data written outside the cache", () => {
  test("db.insertBars and db.deleteBars on a cached symbol: getBars follows at once, the next write resyncs the file", async () => {
    const { fx, acknowledged } = await withAcknowledged();
    await fx.cache.getBars(SYMBOL);
    const overwritten = randomBars([acknowledged[7]!.timestamp], 99, 500);
    fx.db.insertBars(SYMBOL, [...overwritten, ...batch(20)]);
    expect(fx.db.deleteBars(SYMBOL, { start: acknowledged[20]!.timestamp, end: acknowledged[24]!.timestamp })).toBe(5);
    const range = { start: acknowledged[5]!.timestamp, end: acknowledged[30]!.timestamp };
    expectSameBars(await fx.cache.getBars(SYMBOL), fx.db.getBars(SYMBOL));
    expectSameBars(await fx.cache.getBars(SYMBOL, range), fx.db.getBars(SYMBOL, range));
    expect(fx.events).toEqual([]);

    await fx.cache.storeBars(SYMBOL, batch(BATCHES));
    const all = fx.db.getBars(SYMBOL);
    expect(all.length).toBe(acknowledged.length - 5 + BATCH_SIZE + BATCH_SIZE);
    expect(fx.events).toEqual([event("resynced-with-database", all.length - BATCH_SIZE)]);
    const row = await expectMetadataTrue(fx.cache, SYMBOL);
    expect(row.market_version).toBe(row.file_version);
    // The resynced file, then the appended batch (older than the direct inserts, so out of order).
    expectSameBars(latestOf(cacheFileBars(fx.cache, SYMBOL)), all);
    expectSameBars(await fx.cache.getBars(SYMBOL), all);
    expectSameBars(await fx.cache.getBars(SYMBOL, range), fx.db.getBars(SYMBOL, range));
  });

  test("a new instance resyncs on its first read, and deleting every bar leaves an empty file", async () => {
    const { fx } = await withAcknowledged();
    fx.db.deleteBars(SYMBOL);
    expect(await fx.cache.getBars(SYMBOL)).toEqual([]);
    const { cache, events } = fx.open();
    expect(await cache.getBars(SYMBOL)).toEqual([]);
    expect(events).toEqual([event("resynced-with-database", 0)]);
    expect((await expectMetadataTrue(cache, SYMBOL)).row_count).toBe(0);
    await cache.storeBars(SYMBOL, batch(9));
    await expectMetadataTrue(cache, SYMBOL);
    expectSameBars(cacheFileBars(cache, SYMBOL), batch(9));
  });
});

describe("a real crash: a writer process killed with SIGKILL at a random point", () => {
  // Trials alternate write-through on and off; compactEvery 3 puts a compaction in every third
  // call, so kills land in appends, commits, compactions and renames alike.
  const TRIALS = [0, 1, 2, 3, 4, 5];
  test.each(TRIALS)("trial %d: a new SessionCache finds every acknowledged bar and true metadata", async (trial) => {
    const random = seededRandom(7_000 + trial);
    const writeThrough = trial % 2 === 0;
    const fx = openCacheFixture({ compactEvery: 3, writeThrough });
    const spec: CacheWriterSpec = {
      dbPath: fx.dbPath,
      cacheDir: fx.cacheDir,
      symbol: SYMBOL,
      ids: Array.from({ length: 2_000 }, (_, id) => id),
      batchSize: 5,
      base: T0,
      stepMs: MINUTE,
      compactEvery: 3,
      writeThrough,
    };
    const writer = spawnCacheWriter(spec);
    await writer.waitForAcks(5 + Math.floor(random() * 60));
    const spin = performance.now() + random() * 3;
    while (performance.now() < spin) {
      // Let it run a random fraction of a few milliseconds more.
    }
    writer.child.kill("SIGKILL");
    const report = await writer.finished;
    expect(report.signalCode).toBe("SIGKILL");
    expect(report.done).toBe(false);
    expect(report.stderr).toBe("");
    expect(report.events).toEqual([]);
    expect(report.acks).toEqual(report.acks.map((_, i) => i));

    const { cache, events } = fx.open({ compactEvery: 3, writeThrough });
    const found = new Map((await cache.getBars(SYMBOL)).map((bar) => [bar.timestamp, bar]));
    const lost = report.acks.flatMap((id) => writerBatch(spec, id).filter((bar) => {
      const stored = found.get(bar.timestamp);
      return stored === undefined || !Bun.deepEquals(stored, bar, true);
    }));
    expect(lost).toEqual([]);
    // Nothing but what was acknowledged, and at most the one call that was under way.
    const nextId = report.acks.length;
    expect(found.size - report.acks.length * spec.batchSize).toBeOneOf([0, spec.batchSize]);
    for (const timestamp of found.keys()) expect(timestamp).toBeLessThan(T0 + (nextId + 1) * spec.batchSize * MINUTE);
    await expectMetadataTrue(cache, SYMBOL);
    for (const recovery of events) expect(["unacknowledged-tail-dropped", "temp-file-removed", "rebuilt-from-database", "salvaged"]).toContain(recovery.kind);
    if (writeThrough) expectSameBars(await cache.getBars(SYMBOL), fx.db.getBars(SYMBOL));
    // It carries on: a write after the crash lands and the file stays true.
    await cache.storeBars(SYMBOL, writerBatch(spec, nextId + 1));
    await expectMetadataTrue(cache, SYMBOL);
  });
});

describe("without write-through, where the file is the only copy", () => {
  test("salvage reads line by line: a stray quote in a damaged line loses no good line", async () => {
    const { fx, acknowledged, path } = await withAcknowledged({ writeThrough: false });
    const lines = cacheDataLines(readFileSync(path, "utf8"));
    // A damaged line with a quote that spans into the next line, and one never closed.
    const damaged = [lines[0]!, `2024-01-02T02:11:00.000Z,"1`, `2",1,1,1,1,1`, ...lines.slice(1, -1), `,"1,1,1,1,1,1`, lines.at(-1)!];
    writeFileSync(path, `${EXPECTED_CSV_HEADER}\n${damaged.join("\n")}\n`);
    const next = fx.open({ writeThrough: false });
    expectSameBars(await next.cache.getBars(SYMBOL), acknowledged);
    expect(next.events).toEqual([event("salvaged", acknowledged.length, 3)]);
    expect(readFileSync(path, "utf8")).not.toContain('"');
    await expectMetadataTrue(next.cache, SYMBOL);
  });

  test("a read while another writer's append is not yet committed returns the committed bars", async () => {
    const { fx, acknowledged, path } = await withAcknowledged({ writeThrough: false });
    const reader = fx.open({ writeThrough: false });
    expectSameBars(await reader.cache.getBars(SYMBOL), acknowledged);
    await fx.cache.storeBars(SYMBOL, batch(BATCHES));
    // Another writer between its append and its commit: bytes after the row's size.
    appendFileSync(path, csvLine(batch(BATCHES + 1)[0]!));
    expectSameBars(await reader.cache.getBars(SYMBOL), latestOf(acknowledged, batch(BATCHES)));
    expect(reader.events).toEqual([]);
  });

  test("a bar stored older than the file's oldest, after a compaction dropped rows, is still returned", async () => {
    const fx = openCacheFixture({ writeThrough: false, retentionDays: 1 });
    const at = (hours: number) => randomBars([T0 + hours * 3_600_000], hours + 1)[0]!;
    await fx.cache.storeBars(SYMBOL, [at(0), at(12), at(48)]);
    await fx.cache.compact(SYMBOL);
    expectSameBars(await fx.cache.getBars(SYMBOL), [at(48)]);
    await fx.cache.storeBars(SYMBOL, [at(30)]);
    expectSameBars(await fx.cache.getBars(SYMBOL), [at(30), at(48)]);
    await fx.cache.compact(SYMBOL);
    expectSameBars(await fx.cache.getBars(SYMBOL), [at(30), at(48)]);
    await expectMetadataTrue(fx.cache, SYMBOL);
  });
});
