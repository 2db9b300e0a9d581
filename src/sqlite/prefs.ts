/**
 * user_preferences: JSON values under keys, each set stamped with its time. An app may define
 * a zod schema per key; set() then validates against it.
 */
import type { z } from "zod";
import { utf8Length } from "../domain/json.ts";
import { assertPreferenceKey, checkPreferenceSchema, checkPreferenceValue, preferenceJson, type JsonValue, type Preference } from "../domain/preference.ts";
import type { AuditRecorder } from "./audit.ts";
import { guard, type Connection } from "./connection.ts";

interface PreferenceRow {
  key: string;
  value: string;
  updated_at: number;
}

export function createPreferenceRepository(conn: Connection, audit: AuditRecorder) {
  const selectOne = conn.prepare<PreferenceRow>("SELECT key, value, updated_at FROM user_preferences WHERE key = ?");
  const selectAll = conn.prepare<PreferenceRow>("SELECT key, value, updated_at FROM user_preferences ORDER BY key");
  const upsert = conn.prepare(
    "INSERT INTO user_preferences (key, value, updated_at) VALUES (?, ?, ?) " +
      "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
  );
  const remove = conn.prepare("DELETE FROM user_preferences WHERE key = ?");
  const schemas = new Map<string, z.ZodType>();
  const toPreference = (row: PreferenceRow): Preference => ({ ...row, value: JSON.parse(row.value) as JsonValue });

  return {
    /** From now on, set(key, value) validates value against schema (in this process). */
    define(key: string, schema: z.ZodType): void {
      assertPreferenceKey(key);
      schemas.set(key, checkPreferenceSchema(schema));
    },
    get(key: string): Preference | null {
      assertPreferenceKey(key);
      const row = guard(() => selectOne.get(key as never));
      return row ? toPreference(row) : null;
    },
    set(key: string, value: unknown): Preference {
      assertPreferenceKey(key);
      checkPreferenceValue(schemas.get(key), value);
      const json = preferenceJson(value);
      const updatedAt = Date.now();
      conn.writeTransaction(() => {
        upsert.run(key as never, json as never, updatedAt as never);
        audit("prefs.set", key, { bytes: utf8Length(json) });
      });
      return { key, value: JSON.parse(json) as JsonValue, updated_at: updatedAt };
    },
    /** True when the key existed. */
    delete(key: string): boolean {
      assertPreferenceKey(key);
      return conn.writeTransaction(() => {
        const existed = remove.run(key as never).changes > 0;
        if (existed) audit("prefs.delete", key, null);
        return existed;
      });
    },
    all(): Preference[] {
      return guard(() => selectAll.all()).map(toPreference);
    },
  };
}

export type PreferenceRepository = ReturnType<typeof createPreferenceRepository>;
