/**
 * User preferences: JSON values under string keys. The value rule is strict so that what is
 * read back is what was set: JSON.stringify would quietly turn NaN into null, a Date into a
 * string and a Map into {}, and tradelite refuses those instead.
 */
import { z } from "zod";
import { ValidationError, type Issue } from "./errors.ts";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface Preference {
  key: string;
  value: JsonValue;
  /** Epoch ms UTC of the last set. */
  updated_at: number;
}

/** A preference is a setting, not a document store. */
export const MAX_PREFERENCE_BYTES = 64 * 1024;
const MAX_DEPTH = 64;
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
  const issues: Issue[] = [];
  checkJson(value, "value", 0, new Set(), issues);
  if (issues.length > 0) throw new ValidationError(issues);
  const json = JSON.stringify(value);
  if (json.length > MAX_PREFERENCE_BYTES) {
    throw new ValidationError([{ field: "value", message: `at most ${MAX_PREFERENCE_BYTES} bytes as JSON, got ${json.length}` }]);
  }
  return json;
}

function checkJson(value: unknown, path: string, depth: number, seen: Set<object>, issues: Issue[]): void {
  if (value === null || typeof value === "boolean" || typeof value === "string") return;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) issues.push({ field: path, message: `${value} has no JSON form` });
    return;
  }
  if (typeof value !== "object") {
    issues.push({ field: path, message: `a ${typeof value} has no JSON form` });
    return;
  }
  if (depth >= MAX_DEPTH) {
    issues.push({ field: path, message: `nested more than ${MAX_DEPTH} levels` });
    return;
  }
  if (seen.has(value)) {
    issues.push({ field: path, message: "refers to itself" });
    return;
  }
  seen.add(value);
  if (Array.isArray(value)) {
    value.forEach((item, index) => checkJson(item, `${path}[${index}]`, depth + 1, seen, issues));
  } else {
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      issues.push({ field: path, message: `a ${value.constructor?.name ?? "non-plain"} object has no faithful JSON form` });
    } else {
      for (const [key, item] of Object.entries(value)) checkJson(item, `${path}.${key}`, depth + 1, seen, issues);
    }
  }
  seen.delete(value);
}
