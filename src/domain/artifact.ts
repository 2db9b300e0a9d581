/**
 * Model artifact metadata: which file holds which version of a model, with its hash, size,
 * parameters, metrics and tags. The file itself stays where it is.
 */
import { z } from "zod";
import { ValidationError, type Issue } from "./errors.ts";
import { exactJson, type JsonValue } from "./json.ts";
import { checkOptions } from "./query.ts";

export interface ArtifactInput {
  name: string;
  version: string;
  path: string;
  /** Lowercase hex SHA-256 of the file; computed (streaming) when omitted and the file exists. */
  sha256?: string;
  /** Bytes; read from the file when omitted and the file exists. */
  size?: number;
  params?: { [key: string]: JsonValue };
  metrics?: { [key: string]: JsonValue };
  tags?: string[];
}

export interface Artifact {
  name: string;
  version: string;
  path: string;
  sha256: string | null;
  size: number | null;
  /** Epoch ms UTC of registration. */
  created_at: number;
  params: { [key: string]: JsonValue };
  metrics: { [key: string]: JsonValue };
  tags: string[];
}

/** How register treats the artifact's file. */
export interface RegisterOptions {
  /** Who the audit entry names (default: the store's actor). */
  actor?: string;
  /**
   * false: record the metadata as given without touching the file (sha256 and size required).
   * Default true: hash or stat the file when it exists.
   */
  readFile?: boolean;
}

export const ArtifactSchema = z.object({
  name: z.string(),
  version: z.string(),
  path: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
  size: z.number().int().nullable(),
  created_at: z.number().int().describe("epoch milliseconds, UTC"),
  params: z.record(z.string(), z.json()),
  metrics: z.record(z.string(), z.json()),
  tags: z.array(z.string()),
});

const NAME = /^[^\p{C}\p{Z}\s]{1,128}$/u;
const TAG = /^[^\p{C}\p{Z}\s]{1,64}$/u;
const SHA256 = /^[0-9a-f]{64}$/;
export const MAX_ARTIFACT_JSON_BYTES = 64 * 1024;
const MAX_TAGS = 64;

export interface CheckedArtifact {
  name: string;
  version: string;
  path: string;
  sha256: string | undefined;
  size: number | undefined;
  params: string;
  metrics: string;
  tags: string;
}

export function assertArtifactName(value: unknown, field: "name" | "version"): string {
  if (typeof value !== "string" || !NAME.test(value)) {
    throw new ValidationError([{ field, message: "expected 1 to 128 printable characters without whitespace" }]);
  }
  return value;
}

/** Checks a registration; returns its JSON columns as text. */
export function checkArtifact(input: unknown): CheckedArtifact {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ValidationError([{ message: "expected { name, version, path, sha256?, size?, params?, metrics?, tags? }" }]);
  }
  const issues: Issue[] = [];
  const given = input as Record<string, unknown>;
  const allowed = ["name", "version", "path", "sha256", "size", "params", "metrics", "tags"];
  for (const key of Object.keys(given)) if (!allowed.includes(key)) issues.push({ field: key, message: "unknown field" });
  for (const field of ["name", "version"] as const) {
    if (typeof given[field] !== "string" || !NAME.test(given[field] as string)) {
      issues.push({ field, message: "expected 1 to 128 printable characters without whitespace" });
    }
  }
  if (typeof given.path !== "string" || given.path.length === 0 || given.path.includes("\0")) {
    issues.push({ field: "path", message: "expected a non-empty path" });
  }
  if (given.sha256 !== undefined && (typeof given.sha256 !== "string" || !SHA256.test(given.sha256))) {
    issues.push({ field: "sha256", message: "expected 64 lowercase hex digits" });
  }
  if (given.size !== undefined && !(Number.isSafeInteger(given.size) && (given.size as number) >= 0)) {
    issues.push({ field: "size", message: "expected a whole number of bytes >= 0" });
  }
  const json = (field: "params" | "metrics"): string => {
    const value = given[field] === undefined ? {} : given[field];
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      issues.push({ field, message: "expected an object" });
      return "{}";
    }
    try {
      return exactJson(value, field, MAX_ARTIFACT_JSON_BYTES);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      issues.push(...error.issues);
      return "{}";
    }
  };
  const params = json("params");
  const metrics = json("metrics");
  const tags = given.tags ?? [];
  if (!Array.isArray(tags) || tags.length > MAX_TAGS) {
    issues.push({ field: "tags", message: `expected an array of at most ${MAX_TAGS} tags` });
  } else {
    tags.forEach((tag, index) => {
      if (typeof tag !== "string" || !TAG.test(tag)) issues.push({ field: `tags[${index}]`, message: "expected 1 to 64 printable characters without whitespace" });
    });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return {
    name: given.name as string,
    version: given.version as string,
    path: given.path as string,
    sha256: given.sha256 as string | undefined,
    size: given.size as number | undefined,
    params,
    metrics,
    tags: JSON.stringify([...new Set(tags as string[])]),
  };
}

/** An artifact as a table stores it: params, metrics and tags as JSON text. */
export interface StoredArtifactRow extends Omit<Artifact, "params" | "metrics" | "tags"> {
  params: string;
  metrics: string;
  tags: string;
}

/** A stored row as the Artifact every backend returns. */
export function artifactOfRow(row: StoredArtifactRow): Artifact {
  return {
    name: row.name,
    version: row.version,
    path: row.path,
    sha256: row.sha256,
    size: row.size,
    created_at: row.created_at,
    params: JSON.parse(row.params) as { [key: string]: JsonValue },
    metrics: JSON.parse(row.metrics) as { [key: string]: JsonValue },
    tags: JSON.parse(row.tags) as string[],
  };
}

/** What list() filters by. */
export interface ArtifactQuery {
  name?: string;
  tag?: string;
}

/** list()'s filters, checked: a known name shape, a string tag; null where not given. */
export function checkArtifactQuery(query: ArtifactQuery | undefined): { name: string | null; tag: string | null } {
  const issues: Issue[] = [];
  const { name, tag } = checkOptions<ArtifactQuery>(query ?? undefined, ["name", "tag"], issues);
  if (issues.length > 0) throw new ValidationError(issues);
  if (name !== undefined) assertArtifactName(name, "name");
  if (tag !== undefined && typeof tag !== "string") throw new ValidationError([{ field: "tag", message: "expected a string" }]);
  return { name: name ?? null, tag: tag ?? null };
}
