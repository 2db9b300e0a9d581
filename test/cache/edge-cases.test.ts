import { afterEach, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { cacheFileName, symbolOfCacheFile } from "../../src/cache/file-name.ts";
import { openDatabase, StorageError, ValidationError } from "../../src/mod.ts";
import { SessionCache } from "../../src/cache/session-cache.ts";
import { createSqliteStore } from "../../src/sqlite/store.ts";
import { randomBars } from "../support/bars.ts";
import { closeCacheFixtures, openCacheFixture } from "../support/cache-fixture.ts";
import { expectMetadataTrue } from "../support/cache-invariants.ts";
import { tempDir } from "../support/files.ts";

afterEach(closeCacheFixtures);

const T0 = Date.UTC(2024, 0, 2, 1, 31);
const bars = (count: number, seed = 1) => randomBars(Array.from({ length: count }, (_, k) => T0 + k * 60_000), seed);

test("rebuild is refused without write-through, where the file is the only copy", async () => {
  const fx = openCacheFixture({ writeThrough: false });
  await fx.cache.storeBars("S", bars(3));
  const error = await fx.cache.rebuild("S").catch((e: unknown) => e);
  expect((error as StorageError).code).toBe("CACHE_ONLY_COPY");
  expect(await fx.cache.getBars("S")).toEqual(bars(3));
});

test("a relative cache folder is resolved once: a later chdir does not make files look missing", async () => {
  const dir = tempDir("tradelite-chdir-");
  const previous = process.cwd();
  const db = openDatabase({ path: dir.file("db.sqlite") });
  try {
    mkdirSync(dir.file("elsewhere"));
    process.chdir(dir.path);
    const events: unknown[] = [];
    const cache = new SessionCache({ store: createSqliteStore(db), dir: "cache", writeThrough: false, onRecovery: (event) => events.push(event) });
    await cache.storeBars("S", bars(2));
    process.chdir(dir.file("elsewhere"));
    expect(await cache.getBars("S")).toEqual(bars(2));
    expect(events).toEqual([]);
    expect(cache.settings.dir).toBe(join(dir.path, "cache"));
  } finally {
    process.chdir(previous);
    db.close();
    dir.cleanup();
  }
});

test("a read-only database reads a cache without taking the write lock", async () => {
  const fx = openCacheFixture();
  await fx.cache.storeBars("S", bars(4));
  const reader = openDatabase({ path: fx.dbPath, readonly: true });
  try {
    const cache = new SessionCache({ store: createSqliteStore(reader), dir: fx.cacheDir });
    expect(await cache.getBars("S")).toEqual(bars(4));
  } finally {
    reader.close();
  }
});

test("an onRecovery callback that throws does not undo the repair", async () => {
  const fx = openCacheFixture();
  await fx.cache.storeBars("S", bars(4));
  const path = join(fx.cacheDir, cacheFileName("S"));
  await Bun.write(path, "damaged");
  const original = console.error;
  console.error = () => {};
  try {
    const cache = new SessionCache({ store: createSqliteStore(fx.db), dir: fx.cacheDir, onRecovery: () => { throw new Error("callback failed"); } });
    expect(await cache.getBars("S")).toEqual(bars(4));
    await expectMetadataTrue(cache, "S");
  } finally {
    console.error = original;
  }
});

test("a fractional retention period still compacts (the cutoff is a whole millisecond)", async () => {
  const fx = openCacheFixture({ retentionDays: 1e-7, compactEvery: 1 });
  const result = await fx.cache.storeBars("S", bars(3));
  expect(result.compacted).toBe(true);
  expect((await fx.cache.stats("S"))!.row_count).toBe(1);
  await fx.cache.rebuild("S");
  await expectMetadataTrue(fx.cache, "S");
});

test("Windows device names (CON, PRN, LPT1 ...) get an encoded first letter and round-trip", () => {
  for (const symbol of ["CON", "PRN.SH", "AUX", "NUL", "COM1", "LPT9.X"]) {
    const name = cacheFileName(symbol);
    expect(name).toMatch(/^%[0-9A-F]{2}/);
    expect(symbolOfCacheFile(name)).toBe(symbol);
  }
  expect(cacheFileName("CONN")).toBe("CONN.csv");
  expect(symbolOfCacheFile("CON.csv")).toBeUndefined();
});

test("a SessionCache without a store (null, {}, or the removed { db } form) is a ValidationError naming store", () => {
  const dir = tempDir("tradelite-null-");
  const db = openDatabase({ path: dir.file("db.sqlite") });
  try {
    for (const options of [null, {}, { db, dir: dir.file("cache") }]) {
      const error = (() => {
        try {
          new SessionCache(options as never);
        } catch (caught) {
          return caught;
        }
      })();
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues[0]!.field).toBe("store");
    }
  } finally {
    db.close();
    dir.cleanup();
  }
});
