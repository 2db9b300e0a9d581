/**
 * Catching the errors a test expects.
 */
import { expect } from "bun:test";
import { ValidationError } from "../../src/mod.ts";

/** What `work` threw; fails the test when it threw nothing. */
export function thrown(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}

/** The fields a ValidationError names, after checking that it is one. */
export function fieldsOf(error: unknown): (string | undefined)[] {
  expect(error).toBeInstanceOf(ValidationError);
  return (error as ValidationError).issues.map((issue) => issue.field);
}
