/**
 * The drivers of the cache's logic (src/domain/cache-backend.ts): each database call's answer goes back
 * into the work, a failure is thrown into it (so its catch blocks run), and an asynchronous call
 * inside a synchronous (SQLite) transaction is refused from inside the work, not silently awaited.
 */
import { describe, expect, test } from "bun:test";
import { runAsync, runSync, wait, type Maybe } from "../../src/domain/cache-backend.ts";
import { openDatabase, openStore } from "../../src/mod.ts";
import { SessionCache } from "../../src/cache/session-cache.ts";
import { createSqliteStore } from "../../src/sqlite/store.ts";
import { tempDir } from "../support/files.ts";
import { createTestDatabase, postgresAvailable } from "../support/postgres.ts";

/** Work that adds two answers and records whether its catch ran. */
function* work(first: () => Maybe<number>, second: () => Maybe<number>, seen: string[]): Generator<unknown, number, unknown> {
  try {
    const a = yield* wait(first());
    const b = yield* wait(second());
    return a + b;
  } catch (error) {
    seen.push(`caught: ${(error as Error).message}`);
    throw error;
  }
}

describe("cache work drivers", () => {
  test("runSync passes each answer back and returns the result; a throw in a call reaches the work's catch", () => {
    const seen: string[] = [];
    expect(runSync(work(() => 2, () => 3, seen))).toBe(5);
    expect(() => runSync(work(() => 2, () => { throw new Error("disk full"); }, seen))).toThrow("disk full");
    expect(seen).toEqual(["caught: disk full"]);
  });

  test("runSync refuses a promise inside the work, so the work's catch (the append's truncation) runs", () => {
    const seen: string[] = [];
    expect(() => runSync(work(() => 2, () => Promise.resolve(3), seen))).toThrow("asynchronous database call inside a synchronous transaction");
    expect(seen).toEqual(["caught: internal: an asynchronous database call inside a synchronous transaction"]);
  });

  test("runAsync awaits each answer; a rejection is thrown into the work at the call that made it", async () => {
    const seen: string[] = [];
    expect(await runAsync(work(() => Promise.resolve(2), () => 3, seen))).toBe(5);
    const failed = await runAsync(work(() => Promise.resolve(2), () => Promise.reject(new Error("server gone")), seen)).catch((error: Error) => error.message);
    expect(failed).toBe("server gone");
    expect(seen).toEqual(["caught: server gone"]);
  });
});

const postgres = await postgresAvailable();

describe("the cache reads the database's zone at each call", () => {
  async function checkZoneFollows(cache: SessionCache, change: (timezone: string) => Promise<unknown>): Promise<void> {
    await cache.storeBars("S", [{ timestamp: "2024-01-15 09:31", open: 1, high: 1, low: 1, close: 1 }]);
    await change("America/New_York");
    await cache.storeBars("S", [{ timestamp: "2024-01-15 09:31", open: 2, high: 2, low: 2, close: 2 }]);
    const bars = await cache.getBars("S", { start: "2024-01-15", end: "2024-01-15" });
    // The first naive time was Shanghai's, the second New York's; the date is a New York day now.
    expect(bars.map((bar) => [bar.timestamp, bar.open])).toEqual([[Date.UTC(2024, 0, 15, 14, 31), 2]]);
  }

  test("sqlite: after updateSettings, naive times and date bounds are read in the new zone", async () => {
    const dir = tempDir("tradelite-cache-zone-");
    const db = openDatabase({ path: dir.file("z.db"), timezone: "Asia/Shanghai" });
    try {
      await checkZoneFollows(new SessionCache({ store: createSqliteStore(db), dir: dir.file("cache") }), async (timezone) => db.updateSettings({ timezone }));
    } finally {
      db.close();
      dir.cleanup();
    }
  });

  test.skipIf(!postgres)("postgres: the same", async () => {
    const dir = tempDir("tradelite-cache-zone-");
    const database = await createTestDatabase("cache_zone");
    const store = await openStore({ backend: "postgres", url: database.url, max: 2, timezone: "Asia/Shanghai" });
    try {
      await checkZoneFollows(new SessionCache({ store, dir: dir.file("cache") }), (timezone) => store.updateSettings({ timezone }));
    } finally {
      await store.close();
      await database.drop();
      dir.cleanup();
    }
  });
});

describe("a re-stamp reaches the session cache", () => {
  const open = Date.UTC(2024, 0, 15, 1, 30);
  const bars = [0, 1, 2].map((i) => ({ timestamp: open + i * 60_000, open: 1 + i, high: 5, low: 1, close: 2 + i, volume: 10 }));

  /** Fills the cache (the file is in step), re-stamps, and reads through the cache again. */
  async function checkRestamp(cache: SessionCache, restamp: () => Promise<unknown>, fileText: () => Promise<string>): Promise<void> {
    await cache.storeBars("S", bars);
    expect((await cache.getBars("S")).map((bar) => bar.timestamp)).toEqual(bars.map((bar) => bar.timestamp));
    await restamp();
    // The file was in step with the old stamps; the row is marked out of step, so reads come
    // from the moved bars instead of serving 09:30 start-stamped as end-stamped ...
    const moved = bars.map((bar) => [bar.timestamp + 60_000, bar.close]);
    expect((await cache.getBars("S")).map((bar) => [bar.timestamp, bar.close])).toEqual(moved);
    expect((await cache.stats("S"))!.market_version).toBeGreaterThan((await cache.stats("S"))!.file_version);
    // ... and the cache's next turn at the file (a write, or compaction here) rebuilds it.
    await cache.compact("S");
    expect((await cache.getBars("S")).map((bar) => [bar.timestamp, bar.close])).toEqual(moved);
    expect(await fileText()).toContain("2024-01-15T01:33:00.000Z");
    expect(await fileText()).not.toContain("2024-01-15T01:30:00.000Z");
  }

  test("sqlite: the cache file is rebuilt from the moved bars", async () => {
    const dir = tempDir("tradelite-cache-restamp-");
    const db = openDatabase({ path: dir.file("r.db"), barTimestamp: "start" });
    try {
      const cache = new SessionCache({ store: createSqliteStore(db), dir: dir.file("cache") });
      await checkRestamp(cache, async () => db.updateSettings({ barTimestamp: "end" }, { restamp: "1m" }), () => Bun.file(dir.file("cache/S.csv")).text());
    } finally {
      db.close();
      dir.cleanup();
    }
  });

  test.skipIf(!postgres)("postgres: the same", async () => {
    const dir = tempDir("tradelite-cache-restamp-");
    const database = await createTestDatabase("cache_restamp");
    const store = await openStore({ backend: "postgres", url: database.url, max: 2, barTimestamp: "start" });
    try {
      const cache = new SessionCache({ store, dir: dir.file("cache") });
      await checkRestamp(cache, () => store.updateSettings({ barTimestamp: "end" }, { restamp: "1m" }), () => Bun.file(dir.file("cache/S.csv")).text());
    } finally {
      await store.close();
      await database.drop();
      dir.cleanup();
    }
  });
});
