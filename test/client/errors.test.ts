/**
 * The API's error codes that the client test's server cannot be brought to answer cheaply
 * (a read-only store, an internal failure, a proxy's page) turned into the library's errors.
 */
import { expect, test } from "bun:test";
import { errorOfResponse, errorOfShape } from "../../src/client/errors.ts";
import { StorageError, TradeliteError, ValidationError } from "../../src/mod.ts";

test("READONLY is the store's StorageError SQLITE_READONLY; INTERNAL and UNAVAILABLE carry the store's code", () => {
  const readonly = errorOfShape({ code: "READONLY", message: "the store is open read-only", details: null });
  expect(readonly).toBeInstanceOf(StorageError);
  expect(readonly.code).toBe("SQLITE_READONLY");
  expect(errorOfShape({ code: "UNAVAILABLE", message: "busy", details: { storageCode: "SQLITE_BUSY" } }).code).toBe("SQLITE_BUSY");
  const internal = errorOfShape({ code: "INTERNAL", message: "internal error", details: null });
  expect(internal).toBeInstanceOf(StorageError);
  expect(internal.code).toBe("INTERNAL");
});

test("a VALIDATION answer without per-row details still has one issue, its message", () => {
  const error = errorOfShape({ code: "VALIDATION", message: "invalid body", details: null });
  expect(error).toBeInstanceOf(ValidationError);
  expect((error as ValidationError).issues).toEqual([{ message: "invalid body" }]);
});

test("an answer without the API's shape (a proxy's page) is a TradeliteError naming the status", async () => {
  const error = await errorOfResponse(new Response("<html>bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
  expect(error).toBeInstanceOf(TradeliteError);
  expect(error.code).toBe("HTTP_502");
  expect(error.message).not.toContain("<html>");
});
