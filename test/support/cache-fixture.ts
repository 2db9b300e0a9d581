/**
 * A real file database and a real cache folder in a fresh temp dir for each session cache test,
 * with the recovery events of every SessionCache opened on them collected for assertions.
 * Call closeCacheFixtures() in afterEach: it closes every database opened here and removes the
 * folders.
 */
import { openDatabase, type Database } from "../../src/mod.ts";
import { SessionCache, type SessionCacheOptions } from "../../src/cache/session-cache.ts";
import type { CacheRecoveryEvent } from "../../src/domain/cache.ts";
import { createSqliteStore } from "../../src/sqlite/store.ts";
import { tempDir } from "./files.ts";

/** SessionCache options a fixture passes through (store, dir and onRecovery are the fixture's). */
export type CacheFixtureOptions = Omit<SessionCacheOptions, "store" | "dir" | "onRecovery"> & {
  /** The database's timezone option. Default UTC. */
  timezone?: string;
  /** The database's auditRollupMs option. Default: the database's default. */
  auditRollupMs?: number;
};

export interface CacheInstance {
  db: Database;
  cache: SessionCache;
  /** Recovery events this cache reported, in order. */
  events: CacheRecoveryEvent[];
}

export interface CacheFixture extends CacheInstance {
  /** The temp dir holding the database and the cache folder, and nothing else. */
  root: string;
  dbPath: string;
  cacheDir: string;
  /** A new Database connection and a new SessionCache on the same files; the current ones stay open. */
  open(options?: CacheFixtureOptions): CacheInstance;
  /**
   * A restart: closes the current database and makes a new Database and SessionCache on the
   * same files the fixture's db, cache and events.
   */
  restart(options?: CacheFixtureOptions): CacheInstance;
}

const live: { databases: Database[]; cleanup(): void }[] = [];

export function openCacheFixture(options: CacheFixtureOptions = {}): CacheFixture {
  const dir = tempDir("tradelite-cache-");
  const databases: Database[] = [];
  live.push({ databases, cleanup: dir.cleanup });
  const dbPath = dir.file("trading.db");
  const cacheDir = dir.file("session_cache");

  const open = (given: CacheFixtureOptions = options): CacheInstance => {
    const { timezone, auditRollupMs, ...settings } = given;
    const db = openDatabase({ path: dbPath, timezone: timezone ?? "UTC", ...(auditRollupMs === undefined ? {} : { auditRollupMs }) });
    databases.push(db);
    const events: CacheRecoveryEvent[] = [];
    const cache = new SessionCache({ ...settings, store: createSqliteStore(db), dir: cacheDir, onRecovery: (event) => events.push(event) });
    return { db, cache, events };
  };

  const fixture: CacheFixture = {
    root: dir.path,
    dbPath,
    cacheDir,
    ...open(),
    open,
    restart(given = options) {
      fixture.db.close();
      const next = open(given);
      Object.assign(fixture, next);
      return next;
    },
  };
  return fixture;
}

export function closeCacheFixtures(): void {
  for (const { databases, cleanup } of live.splice(0)) {
    for (const db of databases) db.close();
    cleanup();
  }
}
