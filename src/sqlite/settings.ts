/**
 * settings: what the database remembers about its market (src/domain/settings.ts holds the rules).
 * open() reconciles the stored rows with the opening options and writes the missing ones once;
 * update() changes settings explicitly, one audit entry per change, in one transaction.
 */
import type { ResolvedDatabaseOptions } from "../config.ts";
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
import type { AuditRecorder } from "./audit.ts";
import { guard, type Connection } from "./connection.ts";

/**
 * The settings every repository reads at call time (the TimeReading of src/domain/time.ts): one
 * object per database, changed in place by update(), so no repository holds a stale copy.
 */
export interface LiveSettings extends StoreSettings {
  readonly allowSecondsLikeTimestamps: boolean;
}

/** What the options ask the settings to be (undefined where they say nothing). */
function requested(options: ResolvedDatabaseOptions): SettingsRequest {
  const request: SettingsRequest = {};
  if (options.timezone !== undefined) request.timezone = options.timezone;
  if (options.barTimestamp !== undefined) request.barTimestamp = options.barTimestamp;
  if (options.calendar !== undefined) request.calendar = options.calendar;
  if (options.normalizeSymbols !== undefined) request.normalizeSymbols = options.normalizeSymbols;
  return request;
}

export function createSettingsRepository(conn: Connection, options: ResolvedDatabaseOptions) {
  const selectAll = conn.prepare<SettingRow>("SELECT key, value FROM settings");
  const insertMissing = conn.prepare("INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING");
  const upsert = conn.prepare(
    "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) " +
      "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
  );
  const anyBar = conn.prepare<{ present: number }>("SELECT EXISTS (SELECT 1 FROM market_data) AS present");
  const countBars = conn.prepare<{ n: number }>("SELECT count(*) AS n FROM market_data");
  const barRange = conn.prepare<{ first: number | null; last: number | null }>("SELECT min(timestamp) AS first, max(timestamp) AS last FROM market_data");
  const moveBars = conn.prepare("UPDATE market_data SET timestamp = timestamp + ?");
  const staleCaches = conn.prepare("UPDATE session_cache SET market_version = market_version + 1");
  const stored = () => settingsOfRows(guard(() => selectAll.all()));

  /** Reads, reconciles and (once, for a database without them) stores the settings. */
  function open(): LiveSettings {
    const asked = requested(options);
    let { settings, missing } = reconcileSettings(stored(), asked, options.initialSettings);
    if (Object.keys(missing).length > 0 && !options.readonly) {
      // Another process may be creating the same file: the insert keeps whichever rows came
      // first, and the settings are read again in the same transaction, so both agree (or the
      // later one is refused, naming both values).
      settings = conn.writeTransaction(() => {
        const now = Date.now();
        for (const row of rowsOfSettings(missing)) insertMissing.run(row.key as never, row.value as never, now as never);
        return reconcileSettings(stored(), asked, options.initialSettings).settings;
      });
    }
    return { ...settings, allowSecondsLikeTimestamps: options.allowSecondsLikeTimestamps };
  }

  return {
    open,

    /** The stored settings read again (another connection may have changed them). */
    reload(live: LiveSettings): StoreSettings {
      const { settings } = reconcileSettings(stored(), {}, live);
      Object.assign(live, settings);
      return settings;
    },

    /**
     * Changes the given settings: one audit entry per changed setting, all in one transaction.
     * A change of bar stamping while bars are stored is refused (stampingChangeRefusal says why)
     * unless `options.restamp` names their interval: then every bar moves by it, in two
     * statements (RESTAMP_PARKING_OFFSET says why), and every session cache row is marked out of
     * step so a write-through cache rebuilds its file from the moved bars.
     */
    update(live: LiveSettings, change: unknown, audit: AuditRecorder, options?: unknown): StoreSettings {
      const request = readSettingsRequest(change ?? {});
      const restampInterval = readSettingsUpdateOptions(options, request);
      const settings = conn.writeTransaction(() => {
        const current = reconcileSettings(stored(), {}, live).settings;
        const changes = settingChanges(current, request);
        const now = Date.now();
        for (const each of changes) {
          let details: JsonValue = { from: each.from, to: each.to };
          if (each.name === "barTimestamp" && anyBar.get()!.present === 1) {
            const bars = countBars.get()!.n;
            if (restampInterval === undefined) throw stampingChangeRefusal(bars, current.barTimestamp, request.barTimestamp!);
            const restamp = restampOf(restampInterval, current.barTimestamp, request.barTimestamp!);
            const { first, last } = barRange.get()!;
            const issues = restampRangeIssues(first, last, restamp);
            if (issues.length > 0) throw new ValidationError(issues);
            guard(() => moveBars.run((RESTAMP_PARKING_OFFSET + restamp.shiftMs) as never));
            guard(() => moveBars.run(-RESTAMP_PARKING_OFFSET as never));
            guard(() => staleCaches.run());
            details = restampDetails(each, restamp, bars);
          }
          upsert.run(each.key as never, JSON.stringify(each.to) as never, now as never);
          audit(SETTINGS_AUDIT_ACTION, each.key, details);
        }
        return { ...current, ...request } as StoreSettings;
      });
      Object.assign(live, settings);
      return settings;
    },
  };
}

export type SettingsRepository = ReturnType<typeof createSettingsRepository>;
