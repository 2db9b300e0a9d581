/**
 * The Store interface over PostgreSQL: `openStore({ backend: "postgres", url })`. One pool, the
 * schema migrated on open, the repositories of src/postgres/ behind the same method set as the
 * SQLite store, every mutation and its audit entry in one transaction. `withActor(name)` gives a
 * view whose mutations the audit log attributes to `name` (AsyncLocalStorage carries it into the
 * call; each repository reads it before its first await). After close(), every call is refused
 * with StorageError CLOSED, as on SQLite.
 */
import { z } from "zod";
import { checkActor } from "../domain/audit.ts";
import { StorageError, ValidationError } from "../domain/errors.ts";
import { BAR_TIMESTAMPS, type BarTimestamp } from "../domain/query.ts";
import type { Store } from "../domain/store.ts";
import { assertTimeZone } from "../domain/time.ts";
import { createPgArtifacts } from "./artifacts.ts";
import { createPgAudit, lockAuditChain } from "./audit.ts";
import { createPgBars } from "./bars.ts";
import { createPgCacheBackend } from "./cache-meta.ts";
import { CACHE_BACKEND, type CacheBackend } from "../cache/backend.ts";
import { PostgresPool, READ_COMMITTED, type PostgresOptions } from "./connection.ts";
import { createPgMaintenance, type RunRecorder } from "./maintenance.ts";
import { createPgMetrics, recordIn } from "./metrics.ts";
import { migratePostgres } from "./migrations.ts";
import { createPgPrefs } from "./prefs.ts";
import { createPgQuotes } from "./quotes.ts";

export interface PostgresStoreOptions extends PostgresOptions {
  /** IANA zone for naive timestamps and day/week buckets. Default UTC. */
  timezone?: string;
  /** Where stored bars are stamped within their interval. Default "start". */
  barTimestamp?: BarTimestamp;
  /** Who the audit log names for the store's own mutations. Default "tradelite". */
  actor?: string;
}

const OptionsSchema = z.strictObject({
  url: z.string().optional(),
  max: z.number().optional(),
  idleTimeoutS: z.number().optional(),
  connectionTimeoutS: z.number().optional(),
  timezone: z.string().optional(),
  barTimestamp: z.enum(BAR_TIMESTAMPS).optional(),
  actor: z.string().optional(),
});

export async function openPostgresStore(options: PostgresStoreOptions = {}): Promise<Store> {
  const parsed = OptionsSchema.safeParse(options ?? {});
  if (!parsed.success) {
    throw new ValidationError(
      parsed.error.issues.map((issue) => ({
        field: issue.code === "unrecognized_keys" ? issue.keys.join(", ") : issue.path.join(".") || undefined,
        message: issue.message,
      })),
    );
  }
  const given = parsed.data;
  const timezone = assertTimeZone(given.timezone ?? "UTC");
  const barTimestamp = given.barTimestamp ?? "start";
  const actor = checkActor(given.actor ?? "tradelite");
  const pool = new PostgresPool(given);
  try {
    await pool.run((sql) => migratePostgres(sql));
  } catch (error) {
    await pool.close();
    throw error;
  }

  const audit = createPgAudit(pool, { timezone, actor });
  const recordRun: RunRecorder = async (action, durationMs, details) => {
    const who = audit.record.actor();
    await pool.run((sql) =>
      sql.begin(READ_COMMITTED, async (tx) => {
        await lockAuditChain(tx);
        await recordIn(tx, `postgres.${action}.ms`, durationMs);
        await audit.record(tx, who, `maintenance.${action}`, null, details);
      }),
    );
  };
  const parts = {
    bars: createPgBars(pool, { timezone, barTimestamp }, audit.record),
    quotes: createPgQuotes(pool, { timezone }, audit.record),
    metrics: createPgMetrics(pool, { timezone }),
    prefs: createPgPrefs(pool, audit.record),
    artifacts: createPgArtifacts(pool, audit.record),
    maintenance: createPgMaintenance(pool, recordRun),
  };
  const state = { closed: false };
  return view(parts, audit, pool, state, { timezone, barTimestamp }, undefined);
}

type Parts = {
  bars: ReturnType<typeof createPgBars>;
  quotes: ReturnType<typeof createPgQuotes>;
  metrics: ReturnType<typeof createPgMetrics>;
  prefs: ReturnType<typeof createPgPrefs>;
  artifacts: ReturnType<typeof createPgArtifacts>;
  maintenance: ReturnType<typeof createPgMaintenance>;
};

function view(
  parts: Parts,
  audit: ReturnType<typeof createPgAudit>,
  pool: PostgresPool,
  state: { closed: boolean },
  settings: { timezone: string; barTimestamp: BarTimestamp },
  actor: string | undefined,
): Store {
  /** Refuses calls after close(); runs the call as this view's actor. */
  const call = <T>(work: () => Promise<T>): Promise<T> => {
    if (state.closed) return Promise.reject(new StorageError("CLOSED", "the store is closed"));
    return actor === undefined ? work() : audit.record.as(actor, work);
  };
  const views = new Map<string, Store>();
  const { bars, quotes, metrics, prefs, artifacts, maintenance } = parts;
  const store: Store & { [CACHE_BACKEND]: () => CacheBackend } = {
    backend: "postgres",
    timezone: settings.timezone,
    barTimestamp: settings.barTimestamp,
    withActor(name) {
      checkActor(name);
      let existing = views.get(name);
      if (!existing) {
        existing = view(parts, audit, pool, state, settings, name);
        // Callers ask for a handful of names (one per token); keep those, not every string seen.
        if (views.size < 64) views.set(name, existing);
      }
      return existing;
    },
    insertBars: (symbol, input, options) => call(() => bars.insertBars(symbol, input, options)),
    getBars: (symbol, query) => call(() => bars.getBars(symbol, query)),
    async *iterateBars(symbol, query) {
      if (state.closed) throw new StorageError("CLOSED", "the store is closed");
      for await (const bar of bars.iterateBars(symbol, query)) {
        yield bar;
        if (state.closed) throw new StorageError("CLOSED", "the store closed during this iteration");
      }
    },
    latestBar: (symbol) => call(() => bars.latestBar(symbol)),
    deleteBars: (symbol, range, options) => call(() => bars.deleteBars(symbol, range, options)),
    overview: () => call(() => bars.overview()),
    insertQuotes: (symbol, input) => call(() => quotes.insertQuotes(symbol, input)),
    getQuotes: (symbol, query) => call(() => quotes.getQuotes(symbol, query)),
    metrics: {
      record: (name, value, labels) => call(() => metrics.record(name, value, labels)),
      query: (name, query) => call(() => metrics.query(name, query)),
      summary: (name) => call(() => metrics.summary(name)),
    },
    prefs: {
      define: (key, schema) => {
        if (state.closed) throw new StorageError("CLOSED", "the store is closed");
        prefs.define(key, schema);
      },
      get: (key) => call(() => prefs.get(key)),
      set: (key, value) => call(() => prefs.set(key, value)),
      delete: (key) => call(() => prefs.delete(key)),
      all: () => call(() => prefs.all()),
    },
    audit: {
      append: (input) => call(() => audit.append(input)),
      query: (query) => call(() => audit.query(query)),
      head: () => call(() => audit.head()),
      verify: (options) => call(() => audit.verify(options)),
    },
    artifacts: {
      register: (input, options) => call(() => artifacts.register(input, { ...options, ...(actor === undefined ? {} : { actor }) })),
      get: (name, version) => call(() => artifacts.get(name, version)),
      list: (query) => call(() => artifacts.list(query)),
      remove: (name, version) => call(() => artifacts.remove(name, version)),
    },
    maintenance: {
      checkpoint: (mode) => call(() => maintenance.checkpoint(mode)),
      optimize: () => call(() => maintenance.optimize()),
      vacuum: (options) => call(() => maintenance.vacuum(options)),
      integrityCheck: (options) => call(() => maintenance.integrityCheck(options)),
      backup: () => call(() => maintenance.backup()),
      info: () => call(() => maintenance.info()),
      stats: () => call(() => maintenance.stats()),
    },
    // What `new SessionCache({ store })` runs on (src/cache/session-cache.ts); not part of Store.
    [CACHE_BACKEND]: () => createPgCacheBackend({ pool, bars: bars, audit: audit.record, timezone: settings.timezone, actor, closed: () => state.closed }),
    async close() {
      if (state.closed) return;
      state.closed = true;
      await pool.close();
    },
  };
  return store;
}
