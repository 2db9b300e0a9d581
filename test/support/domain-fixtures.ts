/**
 * Shared helpers for the domain tests: a seeded random source for generated inputs (so a failing
 * case reproduces), and small wrappers that catch the typed errors a rule is expected to raise.
 */
import { expect } from "bun:test";
import { ValidationError, type Issue } from "../../src/domain/errors.ts";
import { TimestampError } from "../../src/domain/time.ts";

/** A deterministic random source in [0, 1): the same seed gives the same inputs. */
export { mulberry32 as seededRandom } from "../../scripts/synthetic-bars.ts";

/** A whole number in [min, max], both inclusive. */
export function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

/** Runs `action`, which must throw an instance of `type`, and returns what it threw. */
export function thrownBy<E extends Error>(action: () => unknown, type: abstract new (...args: never[]) => E): E {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  if (caught === undefined) throw new Error(`expected ${type.name} to be thrown, but nothing was thrown`);
  expect(caught).toBeInstanceOf(type);
  return caught as E;
}

/** The issues of the ValidationError that `action` must throw. */
export function issuesOf(action: () => unknown): Issue[] {
  const error = thrownBy(action, ValidationError);
  expect(error.issues.length).toBeGreaterThan(0);
  return error.issues;
}

/** The TimestampError that `action` must throw. */
export function timestampErrorOf(action: () => unknown): TimestampError {
  return thrownBy(action, TimestampError);
}

/**
 * A validated batch as plain arrays, so batches compare with toEqual (NaN equals NaN in arrays,
 * not in typed arrays) and a failure prints readably.
 */
export function plainBatch(
  batch: { length: number; timestamp: Float64Array; order: Uint32Array | null },
  fields: readonly string[],
): Record<string, unknown> {
  const plain: Record<string, unknown> = {
    length: batch.length,
    timestamp: Array.from(batch.timestamp),
    order: batch.order === null ? null : Array.from(batch.order),
  };
  for (const field of fields) {
    plain[field] = Array.from((batch as unknown as Record<string, Float64Array>)[field]!);
  }
  return plain;
}

/** `utcMs` as an ISO-8601 wall clock written at `offsetMinutes` from UTC, e.g. 2024-01-15T09:31:00.000+08:00. */
export function isoAtOffset(utcMs: number, offsetMinutes: number): string {
  const wall = new Date(utcMs + offsetMinutes * 60_000).toISOString().slice(0, 23);
  return `${wall}${formatOffset(offsetMinutes)}`;
}

/** +08:00, -05:00, +05:45. */
export function formatOffset(offsetMinutes: number): string {
  const sign = offsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}
