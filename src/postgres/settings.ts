/**
 * settings on PostgreSQL, with the rules of src/domain/settings.ts as src/sqlite/settings.ts
 * applies them: open() reconciles the stored rows with the opening options and writes the
 * missing ones once; update() changes settings explicitly, one audit entry per change, in the
 * change's transaction.
 */
import type { SQL } from "bun";
import {
  reconcileSettings,
  readSettingsRequest,
  readSettingsUpdateOptions,
  RESTAMP_PARKING_OFFSET,
  restampDetails,
  restampOf,
  restampRangeIssues,
  rowsOfSettings,
  settingChanges,
  settingsOfRows,
  SETTINGS_AUDIT_ACTION,
  stampingChangeRefusal,
  type SettingRow,
  type SettingsRequest,
  type StoreSettings,
} from "../domain/settings.ts";
import { ValidationError } from "../domain/errors.ts";
import type { JsonValue } from "../domain/json.ts";
import { lockAuditChain, type AuditRecorder } from "./audit.ts";
import { READ_COMMITTED, type PostgresPool } from "./connection.ts";

/** The settings every repository reads at call time; updated in place by update(). */
export interface LiveSettings extends StoreSettings {
  readonly allowSecondsLikeTimestamps: boolean;
}

async function storedIn(sql: SQL): Promise<SettingsRequest> {
  return settingsOfRows((await sql`SELECT key, value FROM settings`) as SettingRow[]);
}

/**
 * Reads, reconciles and (once, for a database without them) stores the settings. Two processes
 * creating one database agree: each inserts what is missing with ON CONFLICT DO NOTHING and
 * reads the rows again in the same transaction, so the first rows win and a later opening whose
 * options contradict them is refused, naming both values.
 */
export async function openSettings(
  pool: PostgresPool,
  options: SettingsRequest,
  initial: SettingsRequest,
  allowSecondsLikeTimestamps: boolean,
): Promise<LiveSettings> {
  let { settings, missing } = reconcileSettings(await pool.run((sql) => storedIn(sql)), options, initial);
  if (Object.keys(missing).length > 0) {
    settings = await pool.run((sql) =>
      sql.begin(READ_COMMITTED, async (tx) => {
        const now = Date.now();
        for (const row of rowsOfSettings(missing)) {
          await tx`INSERT INTO settings (key, value, updated_at) VALUES (${row.key}, ${row.value}, ${now}) ON CONFLICT (key) DO NOTHING`;
        }
        return reconcileSettings(await storedIn(tx), options, initial).settings;
      }),
    );
  }
  return { ...settings, allowSecondsLikeTimestamps };
}

export function createSettingsRepository(pool: PostgresPool, live: LiveSettings, audit: AuditRecorder) {
  return {
    /**
     * Changes the given settings: one audit entry per changed setting, all in one transaction.
     * A change of bar stamping while bars are stored is refused (stampingChangeRefusal says why)
     * unless `options.restamp` names their interval: then every bar moves by it, as on SQLite
     * (src/sqlite/settings.ts), in the same transaction.
     */
    async update(change: unknown, options?: unknown): Promise<StoreSettings> {
      const request = readSettingsRequest(change ?? {});
      const restampInterval = readSettingsUpdateOptions(options, request);
      const actor = audit.actor();
      const settings = await pool.run((sql) =>
        sql.begin(READ_COMMITTED, async (tx) => {
          // The audit chain's lock serializes every audited mutation (bar inserts too), and under
          // READ COMMITTED the reads below then see what the change before this one wrote.
          await lockAuditChain(tx);
          const current = reconcileSettings(await storedIn(tx), {}, live).settings;
          const changes = settingChanges(current, request);
          const now = Date.now();
          for (const each of changes) {
            let details: JsonValue = { from: each.from, to: each.to };
            if (each.name === "barTimestamp") {
              const [any] = (await tx`SELECT EXISTS (SELECT 1 FROM market_data) AS present`) as { present: boolean }[];
              if (any!.present) {
                const [count] = (await tx`SELECT count(*)::float8 AS n FROM market_data`) as { n: number }[];
                if (restampInterval === undefined) throw stampingChangeRefusal(count!.n, current.barTimestamp, request.barTimestamp!);
                const restamp = restampOf(restampInterval, current.barTimestamp, request.barTimestamp!);
                const [range] = (await tx`SELECT min(timestamp)::float8 AS first, max(timestamp)::float8 AS last FROM market_data`) as {
                  first: number | null;
                  last: number | null;
                }[];
                const issues = restampRangeIssues(range!.first, range!.last, restamp);
                if (issues.length > 0) throw new ValidationError(issues);
                await tx`UPDATE market_data SET timestamp = timestamp + ${RESTAMP_PARKING_OFFSET + restamp.shiftMs}::bigint`;
                await tx`UPDATE market_data SET timestamp = timestamp - ${RESTAMP_PARKING_OFFSET}::bigint`;
                await tx`UPDATE session_cache SET market_version = market_version + 1`;
                details = restampDetails(each, restamp, count!.n);
              }
            }
            await tx`INSERT INTO settings (key, value, updated_at) VALUES (${each.key}, ${JSON.stringify(each.to)}, ${now})
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`;
            await audit(tx, actor, SETTINGS_AUDIT_ACTION, each.key, details);
          }
          return { ...current, ...request } as StoreSettings;
        }),
      );
      Object.assign(live, settings);
      return settings;
    },
  };
}

export type SettingsRepository = ReturnType<typeof createSettingsRepository>;
