/**
 * One error shape for every answer that is not a success: `{ error: { code, message, details } }`.
 * Typed store errors map to statuses here; anything else is a 500 whose body says nothing about
 * the inside (no stack, no SQL, no path): the server logs it instead.
 */
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { addSecureHeaders } from "./security.ts";
import { ConflictError, NotFoundError, StorageError, TradeliteError, ValidationError, type Issue } from "../domain/errors.ts";

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "VALIDATION" }),
      message: z.string(),
      details: z.unknown().openapi({ description: "per-row issues for VALIDATION: [{ row?, field?, message }], at most 100" }),
      total: z.number().int().optional().openapi({ description: "how many issues were found, when more than details lists" }),
    }),
  })
  .openapi("Error");

export type ErrorBody = z.infer<typeof ErrorSchema>;

/** The codes the API answers with, by status. */
const CODE_OF_STATUS: Record<number, string> = {
  400: "MALFORMED",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  409: "CONFLICT",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  422: "VALIDATION",
  500: "INTERNAL",
  501: "NOT_IMPLEMENTED",
  503: "UNAVAILABLE",
  507: "INSUFFICIENT_STORAGE",
};

/** Thrown by handlers for a request that cannot be read at all (400) or is refused outright. */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  readonly details: unknown;
  readonly headers: Readonly<Record<string, string>>;
  /** How many issues were found, when `details` lists only the first MAX_REPORTED_ISSUES. */
  total?: number;
  constructor(
    status: ContentfulStatusCode,
    message: string,
    details: unknown = null,
    code = CODE_OF_STATUS[status] ?? "ERROR",
    headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.headers = headers;
  }
}

/**
 * The most issues one error answer lists, on every route and for JSON and CSV alike: 8 million
 * bad rows made a 303 MB answer. `total` then says how many there were.
 */
export const MAX_REPORTED_ISSUES = 100;

export function errorBody(code: string, message: string, details: unknown = null, total?: number): ErrorBody {
  if (Array.isArray(details) && details.length > MAX_REPORTED_ISSUES) {
    return { error: { code, message, details: details.slice(0, MAX_REPORTED_ISSUES), total: Math.max(total ?? 0, details.length) } };
  }
  return { error: { code, message, details, ...(total !== undefined && Array.isArray(details) && total > details.length ? { total } : {}) } };
}

export function errorResponse(c: Context, status: ContentfulStatusCode, code: string, message: string, details: unknown = null, total?: number): Response {
  return c.json(errorBody(code, message, details, total), status);
}

/** A full disk (SQLite's, or the cache folder's): 507, the request can succeed once space is freed. */
const FULL_CODES = new Set(["SQLITE_FULL", "ENOSPC", "EDQUOT"]);
/** Store codes that mean "try again shortly" rather than "broken". */
const BUSY_CODES = new Set(["SQLITE_BUSY", "SQLITE_LOCKED", "CLOSED", "CONNECTION", "WORKER_DIED", "WORKER_UNAVAILABLE", "UPLOAD_INCOMPLETE", "UNAVAILABLE"]);
/**
 * A request the store shed on purpose (its queue full or past its deadline) or that its client
 * abandoned: the same 503, but no line in the error log, which the access log's 503 already
 * covers. Logging each one (with Bun's source excerpt and stack) held the server's thread for
 * most of a storm of 2,500 requests that the queue refused.
 */
const SHED_CODES = new Set(["QUEUE_FULL", "QUEUE_TIMEOUT", "CANCELLED"]);

export type ErrorLogger = (error: unknown, c: Context) => void;

/** Maps anything a handler threw to the one error shape and its status. */
export function handleError(error: unknown, c: Context, log: ErrorLogger): Response {
  const response = errorAnswer(error, c, log);
  addSecureHeaders(response);
  return response;
}

function errorAnswer(error: unknown, c: Context, log: ErrorLogger): Response {
  if (error instanceof ApiError) {
    const response = errorResponse(c, error.status, error.code, error.message, error.details, error.total);
    for (const [name, value] of Object.entries(error.headers)) response.headers.set(name, value);
    return response;
  }
  if (error instanceof ValidationError) return errorResponse(c, 422, "VALIDATION", error.message, error.issues);
  if (error instanceof NotFoundError) return errorResponse(c, 404, "NOT_FOUND", error.message);
  if (error instanceof ConflictError) return errorResponse(c, 409, "CONFLICT", error.message);
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode;
    const response = errorResponse(c, status, CODE_OF_STATUS[status] ?? "ERROR", httpMessage(error));
    const challenge = error.res?.headers.get("WWW-Authenticate");
    if (challenge) response.headers.set("WWW-Authenticate", challenge);
    return response;
  }
  if (error instanceof StorageError && error.code === "NOT_SUPPORTED") {
    return errorResponse(c, 501, "NOT_IMPLEMENTED", error.message);
  }
  if (error instanceof StorageError && error.code === "SQLITE_READONLY") {
    return errorResponse(c, 403, "READONLY", "the store is open read-only");
  }
  if (error instanceof StorageError && FULL_CODES.has(error.code)) {
    // Not the server's fault and not a busy store: the answer says what the caller can do.
    log(error, c);
    return errorResponse(c, 507, "INSUFFICIENT_STORAGE", "the disk is full: nothing of this request was stored; free space and retry", {
      storageCode: error.code,
    });
  }
  if (error instanceof StorageError && SHED_CODES.has(error.code)) return busyResponse(c, error.code);
  if (error instanceof TradeliteError && BUSY_CODES.has(error.code)) {
    log(error, c);
    return busyResponse(c, error.code);
  }
  log(error, c);
  const details = error instanceof StorageError ? { storageCode: error.code } : null;
  return errorResponse(c, 500, "INTERNAL", "internal error; the server log has the details", details);
}

/** The one answer for "try again shortly", whichever way the store shed the request. */
function busyResponse(c: Context, storageCode: string): Response {
  const response = errorResponse(c, 503, "UNAVAILABLE", "the store is busy; retry shortly", { storageCode });
  response.headers.set("Retry-After", "1");
  return response;
}

/** Hono's own messages are safe to show; its bearer-auth and body-limit ones are replaced by ours. */
function httpMessage(error: HTTPException): string {
  switch (error.status) {
    case 400:
      return error.message && !/^Bad Request$/i.test(error.message) ? error.message : "malformed request";
    case 401:
      return "missing or wrong bearer token";
    case 413:
      return "request body is over the size limit";
    case 415:
      return "unsupported Content-Type for this route";
    default:
      return error.message || "request refused";
  }
}

/** zod issues as our per-row issues: an array body's index becomes the row. */
export function issuesOf(error: z.ZodError, target: string): Issue[] {
  // Only those an answer lists: mapping millions of them took gigabytes (validationFailure
  // reports the total).
  return error.issues.slice(0, MAX_REPORTED_ISSUES).map((issue) => {
    const path = [...issue.path];
    const row = target === "json" && typeof path[0] === "number" ? (path.shift() as number) : undefined;
    const keys = issue.code === "unrecognized_keys" ? issue.keys.join(", ") : undefined;
    const field = [...path.map(String), keys].filter(Boolean).join(".");
    return { ...(row === undefined ? {} : { row }), ...(field ? { field } : {}), message: issue.message };
  });
}

/** The validation hook every route shares: a zod failure is a 422 with its issues. */
export function validationHook(result: { success: boolean; target: string; error?: unknown }, c: Context): Response | undefined {
  if (result.success) return undefined;
  const error = validationFailure(result.error as z.ZodError, result.target);
  return errorResponse(c, 422, error.code, error.message, error.details, error.total);
}

/** A zod failure on `target` (param, query, json) as the API's 422. */
export function validationFailure(error: z.ZodError, target: string): ApiError {
  return invalidInput(issuesOf(error, target), error.issues.length, target);
}

/** The API's 422 for `issues` (at most MAX_REPORTED_ISSUES of `total`) found in `target`. */
export function invalidInput(issues: Issue[], total: number, target: string): ApiError {
  const message = `invalid ${target === "json" ? "body" : target}: ${issues
    .slice(0, 3)
    .map((issue) => (issue.field ? `${issue.row === undefined ? "" : `row ${issue.row} `}${issue.field}: ${issue.message}` : issue.message))
    .join("; ")}`;
  const failure = new ApiError(422, message, issues, "VALIDATION");
  failure.total = total;
  return failure;
}

/**
 * Validates synchronously with a route's own zod schema, for the hot route that skips the
 * validator middleware (see bars.ts); the answer to a failure is the same as the hook's.
 */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, target: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationFailure(result.error, target);
  return result.data;
}

/** A route's answers besides its success, for the OpenAPI document. */
export function errorResponses(...statuses: number[]): Record<number, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }> {
  const descriptions: Record<number, string> = {
    400: "malformed request (unreadable JSON or CSV)",
    401: "missing or wrong bearer token",
    403: "refused (read-only store)",
    404: "not found",
    409: "conflict",
    413: "body over the size limit",
    415: "unsupported Content-Type",
    422: "invalid input; details lists each problem",
    500: "internal error",
    501: "not available on this server or backend",
    503: "store busy; retry",
    507: "the disk is full; nothing was stored",
  };
  return Object.fromEntries(
    [401, 422, 500, 507, ...statuses].map((status) => [status, { description: descriptions[status] ?? "error", content: { "application/json": { schema: ErrorSchema } } }]),
  );
}
