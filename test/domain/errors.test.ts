import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ConflictError, NotFoundError, StorageError, TradeliteError, ValidationError, type StorageErrorCode } from "../../src/domain/errors.ts";
import { readSourceFiles } from "../support/dependencies.ts";

describe("ValidationError", () => {
  test("carries the issues it was given, each with row, field and message", () => {
    const issues = [
      { row: 3, field: "close", message: "must be > 0, got -1" },
      { field: "limit", message: "must be a positive whole number, got 0" },
      { message: "expected an array of bars or an object of columns" },
    ];
    const error = new ValidationError(issues);
    expect(error.issues).toEqual(issues);
    expect(error.code).toBe("VALIDATION");
    expect(error.name).toBe("ValidationError");
    expect(error).toBeInstanceOf(TradeliteError);
    expect(error).toBeInstanceOf(Error);
  });

  test("the message names each issue's row and field", () => {
    const error = new ValidationError([
      { row: 3, field: "close", message: "must be > 0, got -1" },
      { row: 7, field: "volume", message: "must be >= 0, got -5" },
    ]);
    expect(error.message).toContain("row 3 close: must be > 0, got -1");
    expect(error.message).toContain("row 7 volume: must be >= 0, got -5");
  });

  test("an issue without a row names just the field; one without either is its message", () => {
    const error = new ValidationError([{ field: "timezone", message: "unknown time zone" }, { message: "expected an object" }]);
    expect(error.message).toContain("timezone: unknown time zone");
    expect(error.message).toContain("expected an object");
    expect(error.message).not.toContain("row");
  });

  test("row 0 is named (zero is a row, not a missing one)", () => {
    expect(new ValidationError([{ row: 0, field: "open", message: "bad" }]).message).toContain("row 0 open");
  });

  test("a long list shows the first five in the message and counts the rest; issues keeps them all", () => {
    const issues = Array.from({ length: 12 }, (_, row) => ({ row, field: "volume", message: "must be >= 0" }));
    const error = new ValidationError(issues);
    expect(error.issues).toHaveLength(12);
    expect(error.message).toContain("row 4 volume");
    expect(error.message).not.toContain("row 5 volume");
    expect(error.message).toContain("(and 7 more)");
  });

  test("a summary replaces the generated message but not the issues", () => {
    const error = new ValidationError([{ row: 1, field: "close", message: "bad" }], "the batch is invalid");
    expect(error.message).toBe("the batch is invalid");
    expect(error.issues).toHaveLength(1);
  });
});

describe("the other typed errors", () => {
  test("each carries its code and its class name", () => {
    expect(new NotFoundError("no such symbol")).toMatchObject({ code: "NOT_FOUND", name: "NotFoundError", message: "no such symbol" });
    expect(new ConflictError("exists")).toMatchObject({ code: "CONFLICT", name: "ConflictError" });
    const cause = new Error("database is locked");
    const storage = new StorageError("SQLITE_BUSY", "busy", { cause });
    expect(storage).toMatchObject({ code: "SQLITE_BUSY", name: "StorageError", cause });
    for (const error of [new NotFoundError("x"), new ConflictError("x"), storage]) expect(error).toBeInstanceOf(TradeliteError);
  });
});

describe("StorageErrorCode", () => {
  test("an unlisted code fails typecheck; an engine's code passes by its prefix", () => {
    // @ts-expect-error a code StorageErrorCode does not list (`bun run typecheck` fails without this line's error)
    const unlisted = new StorageError("NOT_A_LISTED_CODE", "x");
    expect(unlisted.code as string).toBe("NOT_A_LISTED_CODE");
    const engines: StorageErrorCode[] = ["SQLITE_FULL", "PG_23505", "ENOSPC", "CLOSED"];
    expect(engines.map((code) => new StorageError(code, "x").code)).toEqual(engines);
  });

  test("lists every code src/ throws a StorageError with, and none that no file throws", () => {
    const files = readSourceFiles(join(import.meta.dir, "../.."));
    const errors = files.find((file) => file.path === "src/domain/errors.ts")!.text;
    const union = errors.slice(errors.indexOf("export type StorageErrorCode"), errors.indexOf("export class StorageError"));
    const listed = new Set([...union.matchAll(/\| "([A-Z0-9_]+)"/g)].map((match) => match[1]!));
    const thrown = new Set<string>();
    for (const file of files) {
      if (file.path === "src/domain/errors.ts") continue;
      for (const match of file.text.matchAll(/new StorageError\(\s*"([A-Z0-9_]+)"/g)) thrown.add(match[1]!);
    }
    // Codes given through a variable: the cache's file errors, the worker's carried code, the
    // client's answers without the store's code.
    for (const code of ["IO_ERROR", "STORAGE", "UNAVAILABLE", "INSUFFICIENT_STORAGE", "INTERNAL"]) thrown.add(code);
    const ours = [...thrown].filter((code) => !/^(SQLITE|PG)_/.test(code)).sort();
    expect([...listed].sort()).toEqual(ours);
  });
});
