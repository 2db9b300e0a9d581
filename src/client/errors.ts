/**
 * The API's one error shape, `{ error: { code, message, details } }`, turned back into the error
 * classes the library throws, with the library's codes, so a caller's `instanceof ValidationError`
 * and `error.code === "SQLITE_BUSY"` read the same over HTTP as in process.
 */
import { ConflictError, NotFoundError, StorageError, TradeliteError, ValidationError, type Issue, type StorageErrorCode } from "../domain/errors.ts";

interface ErrorShape {
  code: string;
  message: string;
  details: unknown;
}

/** The error an unsuccessful answer stands for (its body is read). */
export async function errorOfResponse(response: Response): Promise<TradeliteError> {
  const shape = errorShapeOf(await response.text().catch(() => ""));
  if (!shape) return new TradeliteError(`HTTP_${response.status}`, `the server answered ${response.status} ${response.statusText} without tradelite's error shape`);
  return errorOfShape(shape);
}

export function errorOfShape({ code, message, details }: ErrorShape): TradeliteError {
  switch (code) {
    case "VALIDATION":
      return new ValidationError(issuesOf(details, message), message);
    case "NOT_FOUND":
      return new NotFoundError(message);
    case "CONFLICT":
      return new ConflictError(message);
    // The API answers the store's NOT_SUPPORTED and SQLITE_READONLY with HTTP's own words
    // (errors.ts in src/api); in process they are these StorageErrors.
    case "NOT_IMPLEMENTED":
      return new StorageError("NOT_SUPPORTED", message);
    case "READONLY":
      return new StorageError("SQLITE_READONLY", message);
    // A busy or failed store: the store's own code travels in details.storageCode.
    case "UNAVAILABLE":
    case "INSUFFICIENT_STORAGE":
    case "INTERNAL":
      return new StorageError(storageCodeOf(details) ?? code, message);
    // UNAUTHORIZED, FORBIDDEN, MALFORMED, PAYLOAD_TOO_LARGE ...: refusals of the request itself,
    // which no store method throws; the API's code is kept.
    default:
      return new TradeliteError(code, message);
  }
}

function errorShapeOf(text: string): ErrorShape | null {
  try {
    const error = (JSON.parse(text) as { error?: Partial<ErrorShape> }).error;
    if (error && typeof error.code === "string" && typeof error.message === "string") return { code: error.code, message: error.message, details: error.details ?? null };
  } catch {
    // Not JSON: not our shape.
  }
  return null;
}

function issuesOf(details: unknown, message: string): Issue[] {
  if (Array.isArray(details) && details.every((issue) => typeof issue?.message === "string")) return details as Issue[];
  return [{ message }];
}

/** The code of the StorageError the server's store threw, carried as a string in details. */
function storageCodeOf(details: unknown): StorageErrorCode | undefined {
  const code = (details as { storageCode?: unknown } | null)?.storageCode;
  return typeof code === "string" ? (code as StorageErrorCode) : undefined;
}
