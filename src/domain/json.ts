/**
 * JSON values that read back exactly as given, and the canonical JSON text the audit chain
 * hashes. JSON.stringify would silently turn NaN into null, a Date into a string and a Map into
 * {}: those are refused instead, with the path of the offending part.
 */
import { ValidationError, type Issue } from "./errors.ts";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const MAX_DEPTH = 64;

/** `value` as JSON text, or a ValidationError naming each part that has no faithful JSON form. */
export function exactJson(value: unknown, field: string, maxBytes: number): string {
  const issues: Issue[] = [];
  checkJson(value, field, 0, new Set(), issues);
  if (issues.length > 0) throw new ValidationError(issues);
  const json = JSON.stringify(value);
  if (json.length > maxBytes) {
    throw new ValidationError([{ field, message: `at most ${maxBytes} bytes as JSON, got ${json.length}` }]);
  }
  return json;
}

/**
 * Canonical JSON: keys sorted at every level, no whitespace, strings escaped as JSON.stringify
 * does, numbers in ECMAScript's shortest form. Python's
 * `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` writes the same
 * text for the values the audit log holds (strings, integers, booleans, null, arrays, objects).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.keys(value)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
  return `{${entries.join(",")}}`;
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
