/**
 * The PostgreSQL schema: SQLite's tables with native types, created by versioned, forward-only
 * migrations recorded in `schema_migrations`. Each migration runs in one transaction holding a
 * transaction-level advisory lock, so several processes opening a new database migrate it once;
 * a database migrated by a newer tradelite is refused, never used half-understood.
 *
 * `market_data.timestamp` is `bigint` epoch milliseconds UTC, not `timestamptz`: it is what the
 * Store's API and SQLite hold, so a value round-trips with no conversion and no loss (timestamptz
 * counts microseconds and would need one at every boundary), the (symbol, timestamp) key and the
 * range scans use plain integer comparisons, and resampling computes buckets with the same
 * integer arithmetic as SQLite's. Prices, volume and amount are `double precision`, JavaScript's
 * number: volume too, because real exports carry non-integral volumes (the TDX denormals).
 */
import type { SQL } from "bun";
import { StorageError } from "../domain/errors.ts";
import { shippedCalendar, SHIPPED_CALENDARS } from "../domain/calendars/index.ts";
import { INSTRUMENT_TABLES } from "./instruments.ts";
import { CALENDAR_TABLES, writeCalendar } from "./calendars.ts";
import { READ_COMMITTED } from "./connection.ts";
import { CHANGES_MIGRATION } from "./changes.ts";
import { AUDIT_PENDING_TABLE } from "./audit-rollup.ts";
import { SUMMARY_MIGRATION } from "./summary.ts";
import { DERIVED_DAYS_MIGRATION } from "./derived-days.ts";

interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
  /** Data the migration writes after its DDL, in the same transaction (bound parameters only). */
  readonly up?: (tx: SQL) => Promise<void>;
}

const V1 = `
CREATE TABLE market_data (
    symbol text NOT NULL,
    timestamp bigint NOT NULL,
    open double precision,
    high double precision,
    low double precision,
    close double precision,
    volume double precision,
    amount double precision,
    PRIMARY KEY (symbol, timestamp)
);

CREATE TABLE quotes (
    symbol text NOT NULL,
    timestamp bigint NOT NULL,
    bid double precision,
    bid_size double precision,
    ask double precision,
    ask_size double precision,
    last double precision,
    volume double precision,
    PRIMARY KEY (symbol, timestamp)
);

CREATE TABLE session_cache (
    symbol text PRIMARY KEY,
    last_updated bigint,
    row_count bigint,
    file_path text,
    checksum text,
    size_bytes bigint NOT NULL DEFAULT 0,
    writes_since_compaction bigint NOT NULL DEFAULT 0,
    last_compacted bigint,
    first_timestamp bigint,
    last_timestamp bigint,
    covered_from bigint,
    market_version bigint NOT NULL DEFAULT 0,
    file_version bigint NOT NULL DEFAULT 0
);

CREATE TABLE recovery_metrics (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    timestamp bigint NOT NULL,
    value double precision NOT NULL,
    labels text NOT NULL DEFAULT '{}'
);
CREATE INDEX recovery_metrics_name_time ON recovery_metrics (name, timestamp);

CREATE TABLE user_preferences (
    key text PRIMARY KEY,
    value text NOT NULL,
    updated_at bigint NOT NULL
);

CREATE TABLE audit_log (
    id bigint PRIMARY KEY,
    timestamp bigint NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    entity text,
    details text NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL
);
CREATE INDEX audit_log_time ON audit_log (timestamp);
CREATE FUNCTION tradelite_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION tradelite_audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION tradelite_audit_log_append_only();

CREATE TABLE model_artifacts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    version text NOT NULL,
    path text NOT NULL,
    sha256 text,
    size bigint,
    created_at bigint NOT NULL,
    params text NOT NULL DEFAULT '{}',
    metrics text NOT NULL DEFAULT '{}',
    tags text NOT NULL DEFAULT '[]',
    UNIQUE (name, version)
);
`;

/**
 * sum() as SQLite computes it for floating-point values since 3.43: Kahan-Babuska-Neumaier
 * compensated summation (SQLite's kahanBabuskaNeumaierStep, and the error term left out of the
 * result when it overflowed). PostgreSQL's own sum() adds plainly, which differs in the last bits
 * (0.1 + 0.2 + 0.3 + 1e16 - 1e16 is 0.6 in SQLite and 0 in PostgreSQL); resampled volumes and
 * amounts must be the same on both. The state is {sum, error, count}; NULLs are skipped, and no
 * value at all gives NULL, as sum() does. Used with ORDER BY timestamp, the order SQLite adds in.
 */
const V2_KBN_SUM = `
CREATE FUNCTION tradelite_ksum_step(state float8[], x float8) RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN x IS NULL THEN state ELSE ARRAY[
    state[1] + x,
    state[2] + CASE WHEN abs(state[1]) > abs(x) THEN (state[1] - (state[1] + x)) + x
                    ELSE (x - (state[1] + x)) + state[1] END,
    state[3] + 1
  ] END
$$;
CREATE FUNCTION tradelite_ksum_final(state float8[]) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN state[3] = 0 THEN NULL
              WHEN state[2] IN ('Infinity'::float8, '-Infinity'::float8, 'NaN'::float8) THEN state[1]
              ELSE state[1] + state[2] END
$$;
CREATE AGGREGATE tradelite_ksum(float8) (
  SFUNC = tradelite_ksum_step, STYPE = float8[], FINALFUNC = tradelite_ksum_final, INITCOND = '{0,0,0}'
);
`;

/**
 * amcheck (in PostgreSQL's contrib, shipped with the server) is what integrityCheck() runs.
 * Creating an extension takes privileges a managed database may not grant: without them the
 * migration still succeeds, and integrityCheck() says amcheck is missing.
 */
const V3_AMCHECK = `
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS amcheck;
EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
    RAISE NOTICE 'amcheck is not available: integrity checks will say so';
END
$$;
`;

/**
 * V2's step raised "value out of range: overflow" (22003) when a sum passed the largest double,
 * where SQLite's sum() gives Infinity (1e308 + 1e308 volumes). PostgreSQL refuses a finite + finite
 * that overflows, so the step now predicts it without the failing addition: halving is exact for
 * these magnitudes and commutes with rounding, so s + x rounds to infinity exactly when
 * s/2 + x/2 rounds to 2^1023 or beyond. The sum becomes the signed infinity and the error term
 * NaN, which the final function leaves out, as SQLite does with its overflowed error term.
 */
const V4_KBN_SUM_OVERFLOW = `
CREATE OR REPLACE FUNCTION tradelite_ksum_step(state float8[], x float8) RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN x IS NULL THEN state
    WHEN abs(state[1] * 0.5 + x * 0.5) >= 2::float8 ^ 1023 THEN ARRAY[
      CASE WHEN state[1] * 0.5 + x * 0.5 > 0 THEN 'Infinity'::float8 ELSE '-Infinity'::float8 END,
      'NaN'::float8,
      state[3] + 1
    ]
    ELSE ARRAY[
      state[1] + x,
      state[2] + CASE WHEN abs(state[1]) > abs(x) THEN (state[1] - (state[1] + x)) + x
                      ELSE (x - (state[1] + x)) + state[1] END,
      state[3] + 1
    ]
  END
$$;
`;

/**
 * TimescaleDB, where the server has it: market_data becomes a hypertable partitioned on
 * `timestamp` (bigint epoch ms, so the chunk interval is in ms: 7 days), its rows moved into
 * chunks. The (symbol, timestamp) key includes the partition column, as a hypertable's unique
 * indexes must, and every statement tradelite sends is plain SQL that works on one unchanged.
 * The old create_hypertable signature is used because every 2.x release accepts it. Without the
 * extension, or when it cannot be created (it must be in shared_preload_libraries, and creating
 * it takes privileges), market_data stays a plain table and everything works the same; the
 * reason is raised as a NOTICE. Only the plain-table path runs on this project's machines, which
 * have no TimescaleDB package (see the README).
 */
const V5_TIMESCALEDB = `
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS timescaledb;
            PERFORM create_hypertable('market_data', 'timestamp', chunk_time_interval => 604800000::bigint,
                                      migrate_data => true, if_not_exists => true);
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'TimescaleDB is installed but could not be used (%): market_data stays a plain table', SQLERRM;
        END;
    END IF;
END
$$;
`;

/**
 * V4 still raised 22003 in two places (found by review, fuzzed against SQLite): halving the
 * smallest subnormal (5e-324 * 0.5) is an "underflow" error in PostgreSQL, and the final
 * sum + error could overflow (MAX, 2^969, 2^969 sums to Infinity in SQLite). Now the halving
 * test runs only when both operands are at least 2^969 (below that s + x cannot reach
 * MAX + half an ulp, so it cannot overflow, and halving such values is exact), the final step
 * applies the same test to sum + error, and nested CASEs fix the order of evaluation. An
 * infinite sum stays infinite (the sign is the sum's: both operands share it when they overflow).
 */
const V6_KBN_SUM_EDGES = `
CREATE OR REPLACE FUNCTION tradelite_ksum_overflows(a float8, b float8) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN abs(a) = 'Infinity'::float8 THEN true
              WHEN abs(a) < 2::float8 ^ 969 THEN false
              WHEN abs(b) < 2::float8 ^ 969 THEN false
              ELSE abs(a * 0.5 + b * 0.5) >= 2::float8 ^ 1023 END
$$;
CREATE OR REPLACE FUNCTION tradelite_ksum_step(state float8[], x float8) RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN x IS NULL THEN state
    WHEN tradelite_ksum_overflows(state[1], x) THEN ARRAY[
      CASE WHEN state[1] > 0 THEN 'Infinity'::float8 ELSE '-Infinity'::float8 END,
      'NaN'::float8,
      state[3] + 1
    ]
    ELSE ARRAY[
      state[1] + x,
      state[2] + CASE WHEN abs(state[1]) > abs(x) THEN (state[1] - (state[1] + x)) + x
                      ELSE (x - (state[1] + x)) + state[1] END,
      state[3] + 1
    ]
  END
$$;
CREATE OR REPLACE FUNCTION tradelite_ksum_final(state float8[]) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN state[3] = 0 THEN NULL
              WHEN state[2] IN ('Infinity'::float8, '-Infinity'::float8, 'NaN'::float8) THEN state[1]
              WHEN tradelite_ksum_overflows(state[1], state[2])
                   THEN CASE WHEN state[1] > 0 THEN 'Infinity'::float8 ELSE '-Infinity'::float8 END
              ELSE state[1] + state[2] END
$$;
`;

/** The settings the database remembers, as on SQLite (values are JSON text, as preferences). */
const V7_SETTINGS = `
CREATE TABLE settings (
    key text PRIMARY KEY,
    value text NOT NULL,
    updated_at bigint NOT NULL
);
`;

/**
 * Daily bars from daily files beside market_data's minutes (SQLite's migration says why a table
 * of their own): created in constant time whatever market_data holds. A plain table even where
 * market_data is a hypertable: one row per symbol and trading day stays small.
 */
const V9_MARKET_DATA_DAILY = `
CREATE TABLE market_data_daily (
    symbol text NOT NULL,
    timestamp bigint NOT NULL,
    open double precision,
    high double precision,
    low double precision,
    close double precision,
    volume double precision,
    amount double precision,
    PRIMARY KEY (symbol, timestamp)
);
`;

/**
 * Adjustment factors and corporate actions, as on SQLite (its migration says why known_at is in
 * the key): a correction is a new row, nothing is updated in place.
 */
const V10_ADJUSTMENTS = `
CREATE TABLE adjustment_factors (
    symbol text NOT NULL,
    date text NOT NULL,
    factor double precision NOT NULL,
    known_at bigint NOT NULL,
    source text NOT NULL,
    PRIMARY KEY (symbol, date, known_at)
);
CREATE TABLE corporate_actions (
    symbol text NOT NULL,
    date text NOT NULL,
    cash double precision,
    bonus double precision,
    rights double precision,
    rights_price double precision,
    known_at bigint NOT NULL,
    source text NOT NULL,
    PRIMARY KEY (symbol, date, known_at)
);
`;

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, description: "market_data, quotes, session_cache, recovery_metrics, user_preferences, audit_log (append-only), model_artifacts", sql: V1 },
  { version: 2, description: "tradelite_ksum: sum() with SQLite's compensated summation", sql: V2_KBN_SUM },
  { version: 3, description: "amcheck for integrity checks, where the server allows it", sql: V3_AMCHECK },
  { version: 4, description: "tradelite_ksum: a sum past the largest double is Infinity, as in SQLite, not an overflow error", sql: V4_KBN_SUM_OVERFLOW },
  { version: 5, description: "market_data as a TimescaleDB hypertable, where the server has the extension", sql: V5_TIMESCALEDB },
  { version: 6, description: "tradelite_ksum: no underflow error on subnormals, no overflow error in the final sum", sql: V6_KBN_SUM_EDGES },
  { version: 7, description: "settings (time zone, bar stamping, default calendar)", sql: V7_SETTINGS },
  {
    version: 8,
    description: "calendars, calendar_days, symbol_calendars; the shipped XSHG and XSHE",
    sql: CALENDAR_TABLES,
    async up(tx) {
      for (const name of SHIPPED_CALENDARS) await writeCalendar(tx, shippedCalendar(name)!);
    },
  },
  { version: 9, description: "market_data_daily: daily bars beside the minute bars", sql: V9_MARKET_DATA_DAILY },
  { version: 10, description: "adjustment_factors and corporate_actions: adjusted prices computed on read", sql: V10_ADJUSTMENTS },
  { version: 11, description: "instruments and instrument_status", sql: INSTRUMENT_TABLES },
  { version: 12, description: "market_data_summary: count, first and last per symbol and series, kept by triggers", sql: SUMMARY_MIGRATION },
  { version: 13, description: "bar_changes: the change log watch() reads, written and notified by triggers", sql: CHANGES_MIGRATION },
  // Constant time: tables and triggers only; each symbol's days are built at its first insertBars
  // or by buildDerivedDays (src/postgres/derived-days.ts).
  { version: 14, description: "market_data_days: daily aggregates derived from minute bars, kept on write", sql: DERIVED_DAYS_MIGRATION },
  { version: 15, description: "audit_pending: the open rollup of each symbol's live appends", sql: AUDIT_PENDING_TABLE },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** "tradelite" as a 64-bit advisory lock key: the migrations of every process queue on it. */
const MIGRATION_LOCK = 0x7472_6164_656c_6974n;

/**
 * Brings the database to SCHEMA_VERSION; returns it. Refuses a newer database.
 * A database already up to date is only read (to_regclass, then max(version)): a role that may
 * use the tables but not create any (PostgreSQL 15's default on the public schema, and how
 * production databases are often set up) opens a migrated database. DDL and the migration lock
 * are taken only when the schema is behind.
 */
export async function migrate(sql: SQL): Promise<number> {
  const current = await schemaVersion(sql);
  if (current !== null) {
    refuseNewer(current);
    if (current === SCHEMA_VERSION) return current;
  }
  for (;;) {
    const applied = await sql.begin(READ_COMMITTED, async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK.toString()}::bigint)`;
      await tx.unsafe(`CREATE TABLE IF NOT EXISTS schema_migrations (
          version integer PRIMARY KEY,
          description text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const version = (await schemaVersion(tx)) ?? 0;
      refuseNewer(version);
      const next = MIGRATIONS.find((migration) => migration.version === version + 1);
      if (!next) return null;
      await tx.unsafe(next.sql);
      if (next.up) await next.up(tx);
      await tx`INSERT INTO schema_migrations (version, description) VALUES (${next.version}, ${next.description})`;
      return next.version;
    });
    if (applied === null) return SCHEMA_VERSION;
  }
}

/** The recorded schema version; null when there is no schema_migrations table yet. */
async function schemaVersion(sql: SQL): Promise<number | null> {
  const found = (await sql`SELECT to_regclass('schema_migrations') IS NOT NULL AS exists`) as { exists: boolean }[];
  if (!found[0]!.exists) return null;
  const rows = (await sql`SELECT coalesce(max(version), 0)::integer AS version FROM schema_migrations`) as { version: number }[];
  return rows[0]!.version;
}

function refuseNewer(version: number): void {
  if (version > SCHEMA_VERSION) {
    throw new StorageError(
      "SCHEMA_TOO_NEW",
      `the database has schema version ${version}, newer than this tradelite understands (${SCHEMA_VERSION}); upgrade tradelite to use it`,
    );
  }
}
