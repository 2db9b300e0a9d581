/**
 * User preferences: JSON values under string keys. The value rule is strict so that what is
 * read back is what was set: JSON.stringify would quietly turn NaN into null, a Date into a
 * string and a Map into {}, and tradelite refuses those instead.
 */
import { z } from "zod";
import { ValidationError } from "./errors.ts";
import { exactJson, type JsonValue } from "./json.ts";

export type { JsonValue };

export interface Preference {
  key: string;
  value: JsonValue;
  /** Epoch ms UTC of the last set. */
  updated_at: number;
}

/** A preference is a setting, not a document store. */
export const MAX_PREFERENCE_BYTES = 64 * 1024;
const KEY = /^[^\p{C}\p{Z}\s]{1,128}$/u;

export const PreferenceSchema = z.object({
  key: z.string().regex(KEY),
  value: z.json(),
  updated_at: z.number().int().describe("epoch milliseconds, UTC"),
});

export function assertPreferenceKey(key: unknown): string {
  if (typeof key !== "string" || !KEY.test(key)) {
    throw new ValidationError([{ field: "key", message: "expected 1 to 128 printable characters without whitespace" }]);
  }
  return key;
}

/** The value as JSON text, or a ValidationError saying which part cannot be stored as it is. */
export function preferenceJson(value: unknown): string {
  return exactJson(value, "value", MAX_PREFERENCE_BYTES);
}

/** Checks a value against a key's zod schema, if it has one: a ValidationError naming each problem. */
export function checkPreferenceValue(schema: z.ZodType | undefined, value: unknown): void {
  if (!schema) return;
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new ValidationError(parsed.error.issues.map((issue) => ({ field: ["value", ...issue.path].join("."), message: issue.message })));
  }
}

/** define()'s schema: anything with safeParse (a zod schema), or a ValidationError. */
export function checkPreferenceSchema(schema: unknown): z.ZodType {
  if (typeof (schema as { safeParse?: unknown } | null)?.safeParse !== "function") {
    throw new ValidationError([{ field: "schema", message: "expected a zod schema" }]);
  }
  return schema as z.ZodType;
}
