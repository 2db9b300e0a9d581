/**
 * user_preferences on PostgreSQL: JSON values under keys, each set stamped with its time, with
 * the same key, value and schema rules as src/sqlite/prefs.ts. Values are kept as the JSON text
 * set() wrote (a `text` column, not jsonb, which would reorder keys and drop duplicates), so they
 * read back exactly as on SQLite. set and delete record their audit entry in the same transaction.
 */
import type { z } from "zod";
import { utf8Length } from "../domain/json.ts";
import { assertPreferenceKey, checkPreferenceSchema, checkPreferenceValue, preferenceJson, type JsonValue, type Preference } from "../domain/preference.ts";
import { lockAuditChain, type AuditRecorder } from "./audit.ts";
import { READ_COMMITTED, type PostgresPool } from "./connection.ts";

interface PreferenceRow {
  key: string;
  value: string;
  updated_at: number;
}

const toPreference = (row: PreferenceRow): Preference => ({ key: row.key, value: JSON.parse(row.value) as JsonValue, updated_at: row.updated_at });

export function createPreferenceRepository(pool: PostgresPool, audit: AuditRecorder) {
  const schemas = new Map<string, z.ZodType>();

  return {
    /** From now on, set(key, value) validates value against schema (in this process). */
    define(key: string, schema: z.ZodType): void {
      assertPreferenceKey(key);
      schemas.set(key, checkPreferenceSchema(schema));
    },

    async get(key: string): Promise<Preference | null> {
      assertPreferenceKey(key);
      const rows = await pool.run(
        async (sql) => (await sql`SELECT key, value, updated_at::float8 AS updated_at FROM user_preferences WHERE key = ${key}`) as PreferenceRow[],
      );
      return rows.length === 0 ? null : toPreference(rows[0]!);
    },

    async set(key: string, value: unknown): Promise<Preference> {
      assertPreferenceKey(key);
      const actor = audit.actor();
      checkPreferenceValue(schemas.get(key), value);
      const json = preferenceJson(value);
      const updatedAt = Date.now();
      await pool.run((sql) =>
        sql.begin(READ_COMMITTED, async (tx) => {
          await lockAuditChain(tx);
          await tx`INSERT INTO user_preferences (key, value, updated_at) VALUES (${key}, ${json}, ${updatedAt})
                   ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`;
          await audit(tx, actor, "prefs.set", key, { bytes: utf8Length(json) });
        }),
      );
      return { key, value: JSON.parse(json) as JsonValue, updated_at: updatedAt };
    },

    /** True when the key existed. */
    async delete(key: string): Promise<boolean> {
      assertPreferenceKey(key);
      const actor = audit.actor();
      return pool.run((sql) =>
        sql.begin(READ_COMMITTED, async (tx) => {
          await lockAuditChain(tx);
          const removed = await tx`DELETE FROM user_preferences WHERE key = ${key}`;
          const existed = removed.count > 0;
          if (existed) await audit(tx, actor, "prefs.delete", key, null);
          return existed;
        }),
      );
    },

    /** Every preference, by key in code point order (SQLite's BINARY order for UTF-8 text). */
    async all(): Promise<Preference[]> {
      const rows = await pool.run(
        async (sql) => (await sql`SELECT key, value, updated_at::float8 AS updated_at FROM user_preferences ORDER BY key COLLATE "C"`) as PreferenceRow[],
      );
      return rows.map(toPreference);
    },
  };
}

export type PreferenceRepository = ReturnType<typeof createPreferenceRepository>;
