/**
 * Typed errors. Every error tradelite throws on purpose is one of these, so callers (and the
 * HTTP layer) can act on `code` instead of parsing messages.
 */

/** One problem with one input: which row (batch index), which field, what was expected. */
export interface Issue {
  row?: number;
  field?: string;
  message: string;
}

export class TradeliteError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad input. Nothing was written. `issues` lists every problem found, row by row. */
export class ValidationError extends TradeliteError {
  readonly issues: Issue[];
  constructor(issues: Issue[], summary?: string) {
    super("VALIDATION", summary ?? describeIssues(issues));
    this.issues = issues;
  }
}

export class NotFoundError extends TradeliteError {
  constructor(message: string) {
    super("NOT_FOUND", message);
  }
}

export class ConflictError extends TradeliteError {
  constructor(message: string) {
    super("CONFLICT", message);
  }
}

/**
 * The storage engine failed or refused. `code` is the engine's own code where there is one
 * (`SQLITE_BUSY`, `SQLITE_FULL`, a PostgreSQL SQLSTATE), or one of ours (`SCHEMA_TOO_NEW`, `CLOSED`).
 */
export class StorageError extends TradeliteError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

const SHOWN_ISSUES = 5;

function describeIssues(issues: Issue[]): string {
  const shown = issues.slice(0, SHOWN_ISSUES).map((issue) => {
    const where = [
      issue.row === undefined ? undefined : `row ${issue.row}`,
      issue.field,
    ].filter(Boolean).join(" ");
    return where ? `${where}: ${issue.message}` : issue.message;
  });
  const more = issues.length > SHOWN_ISSUES ? ` (and ${issues.length - SHOWN_ISSUES} more)` : "";
  return `invalid input: ${shown.join("; ")}${more}`;
}
