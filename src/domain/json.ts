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
  const bytes = utf8Length(json);
  if (bytes > maxBytes) {
    throw new ValidationError([{ field, message: `at most ${maxBytes} bytes as JSON (UTF-8), got ${bytes}` }]);
  }
  return json;
}

export function utf8Length(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/**
 * Canonical JSON: keys sorted by Unicode code point at every level, no whitespace, strings
 * escaped as JSON.stringify does, numbers in ECMAScript's shortest form. Python's
 * `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` writes the same
 * text for strings, integers, booleans, null, arrays and objects, and for floats whose shortest
 * form has no exponent in either language (1e-4 <= |x| < 1e16); outside that range Python
 * writes `1e-05` where ECMAScript writes `0.00001`.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.keys(value)
    .sort(compareCodePoints)
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
  return `{${entries.join(",")}}`;
}

/**
 * Orders strings by code point, as Python and most other languages do. JavaScript's default
 * sort compares UTF-16 code units, which puts an emoji (a surrogate pair) before U+FF01.
 */
export function compareCodePoints(a: string, b: string): number {
  const left = a[Symbol.iterator]();
  const right = b[Symbol.iterator]();
  for (;;) {
    const x = left.next();
    const y = right.next();
    if (x.done || y.done) return x.done === y.done ? 0 : x.done ? -1 : 1;
    const difference = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (difference !== 0) return difference;
  }
}

function checkJson(value: unknown, path: string, depth: number, seen: Set<object>, issues: Issue[]): void {
  if (value === null || typeof value === "boolean") return;
  if (typeof value === "string") {
    // A lone surrogate has no UTF-8 form: SQLite and every other reader would see U+FFFD.
    if (!value.isWellFormed()) issues.push({ field: path, message: "contains a lone surrogate (not valid Unicode)" });
    return;
  }
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
      for (const [key, item] of Object.entries(value)) {
        if (!key.isWellFormed()) issues.push({ field: path, message: "a key contains a lone surrogate (not valid Unicode)" });
        checkJson(item, `${path}.${key}`, depth + 1, seen, issues);
      }
    }
  }
  seen.delete(value);
}
