/**
 * The audit log: an append-only, hash-chained record of every mutation made through the store.
 *
 * Each entry's hash is the lowercase hex SHA-256 of the UTF-8 text
 * `prev_hash + "\n" + canonicalJson({ id, timestamp, actor, action, entity, details })`,
 * where canonicalJson sorts keys at every level and writes no whitespace (see domain/json.ts).
 * The first entry's prev_hash is 64 zeros. Any client can recompute the chain from the table.
 */
import type { TimeReading } from "./time.ts";
import { z } from "zod";
import { StorageError, ValidationError, type Issue } from "./errors.ts";
import { canonicalJson, exactJson, type JsonValue } from "./json.ts";
import { checkLimit, checkOptions, readSinceUntil } from "./query.ts";

export const GENESIS_HASH = "0".repeat(64);
/** Entries carry counts and ranges, not data. */
export const MAX_AUDIT_DETAILS_BYTES = 16 * 1024;

export interface AuditInput {
  actor: string;
  action: string;
  entity?: string | null;
  details?: JsonValue;
}

export interface AuditEntry {
  id: number;
  /** Epoch ms UTC. */
  timestamp: number;
  actor: string;
  action: string;
  entity: string | null;
  details: JsonValue;
  prev_hash: string;
  hash: string;
}

export interface AuditVerification {
  ok: boolean;
  /** Entries checked. */
  checked: number;
  /** The first entry whose hash or link does not match, when one does not. */
  firstBadId?: number;
}

export const AuditEntrySchema = z.object({
  id: z.number().int(),
  timestamp: z.number().int().describe("epoch milliseconds, UTC"),
  actor: z.string(),
  action: z.string(),
  entity: z.string().nullable(),
  details: z.json(),
  prev_hash: z.string().regex(/^[0-9a-f]{64}$/),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
});

// \p{C} includes lone surrogates, which have no UTF-8 form and would not hash back the same.
const NAME = /^[^\p{C}\s][^\p{C}]{0,127}$/u;
const ENTITY = /^[^\p{C}]{1,256}$/u;

/** Checks an entry to append; returns its details as JSON text. */
/** An actor name (who a change is attributed to): 1 to 128 printable characters. */
export function checkActor(value: unknown): string {
  if (typeof value !== "string" || !NAME.test(value)) {
    throw new ValidationError([{ field: "actor", message: "expected 1 to 128 printable characters" }]);
  }
  return value;
}

export function checkAuditInput(input: unknown): { actor: string; action: string; entity: string | null; details: string } {
  const issues: Issue[] = [];
  if (typeof input !== "object" || input === null) {
    throw new ValidationError([{ message: "expected { actor, action, entity?, details? }" }]);
  }
  const { actor, action, entity, details } = input as Record<string, unknown>;
  for (const [field, value] of [["actor", actor], ["action", action]] as const) {
    if (typeof value !== "string" || !NAME.test(value)) {
      issues.push({ field, message: "expected 1 to 128 printable characters" });
    }
  }
  if (entity !== undefined && entity !== null && (typeof entity !== "string" || !ENTITY.test(entity))) {
    issues.push({ field: "entity", message: "expected 1 to 256 printable characters" });
  }
  let json = "null";
  try {
    json = exactJson(details ?? null, "details", MAX_AUDIT_DETAILS_BYTES);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    issues.push(...error.issues);
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return { actor: actor as string, action: action as string, entity: (entity as string | null | undefined) ?? null, details: json };
}

/** The text an entry's hash is computed over. */
export function auditHashInput(prevHash: string, entry: Omit<AuditEntry, "prev_hash" | "hash">): string {
  const { id, timestamp, actor, action, entity, details } = entry;
  return `${prevHash}\n${canonicalJson({ id, timestamp, actor, action, entity, details })}`;
}

export function auditHash(prevHash: string, entry: Omit<AuditEntry, "prev_hash" | "hash">): string {
  return new Bun.CryptoHasher("sha256").update(auditHashInput(prevHash, entry)).digest("hex");
}

/** An audit row as a table stores it: details as the JSON text append wrote. */
export interface StoredAuditRow extends Omit<AuditEntry, "details"> {
  details: string;
}

export interface AuditHead {
  id: number;
  hash: string;
}

/**
 * The entry an append adds after `previous` (the chain's end, or none): the next id, stamped now,
 * linked and hashed. `checked` comes from checkAuditInput; its `details` text is what is stored.
 */
export function nextAuditEntry(previous: AuditHead | null | undefined, checked: ReturnType<typeof checkAuditInput>): AuditEntry {
  const entry = {
    id: (previous?.id ?? 0) + 1,
    timestamp: Date.now(),
    actor: checked.actor,
    action: checked.action,
    entity: checked.entity,
    details: JSON.parse(checked.details) as JsonValue,
  };
  const prevHash = previous?.hash ?? GENESIS_HASH;
  return { ...entry, prev_hash: prevHash, hash: auditHash(prevHash, entry) };
}

/** A stored row as an entry; details that are not JSON (written around append()) are AUDIT_CORRUPT. */
export function auditEntryOfRow(row: StoredAuditRow): AuditEntry {
  try {
    return { ...row, details: JSON.parse(row.details) as JsonValue };
  } catch (error) {
    // Only a client going around append() can store this; verify() reports it as a bad entry.
    throw new StorageError("AUDIT_CORRUPT", `audit entry ${row.id} has details that are not JSON`, { cause: error });
  }
}

const AUDIT_QUERY_KEYS = ["since", "until", "actor", "action", "limit"];

/** query()'s options checked and read: the inclusive time range, filters (null: any), limit. */
export function readAuditQuery(
  query: unknown,
  reading: TimeReading,
): { start: number; end: number; actor: string | null; action: string | null; limit: number | undefined } {
  const issues: Issue[] = [];
  const { since, until, actor, action, limit } = checkOptions<Record<"since" | "until" | "actor" | "action" | "limit", unknown>>(query, AUDIT_QUERY_KEYS, issues);
  checkLimit(limit, issues);
  for (const [field, value] of [["actor", actor], ["action", action]] as const) {
    if (value !== undefined && typeof value !== "string") issues.push({ field, message: "expected a string" });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  const { start, end } = readSinceUntil(since, until, reading);
  return { start, end, actor: (actor as string | undefined) ?? null, action: (action as string | undefined) ?? null, limit: limit as number | undefined };
}

/** Checks verify()'s `head` option: an earlier head(), or nothing. */
export function checkExpectedHead(head: unknown): AuditHead | undefined {
  if (head === undefined) return undefined;
  const candidate = head as AuditHead;
  if (typeof head !== "object" || head === null || !Number.isSafeInteger(candidate.id) || typeof candidate.hash !== "string") {
    throw new ValidationError([{ field: "head", message: "expected { id, hash } from head()" }]);
  }
  return candidate;
}

/**
 * The chain's rules, one stored row at a time in id order, for every backend's verify(): ids
 * without gaps from 1, each row linked to the one before, its details stored as append writes
 * them (JSON with a duplicate key reads differently elsewhere, so it is a rewrite too), its hash
 * recomputed; with an expected head (an earlier head()), that entry unchanged and still there.
 */
export class ChainVerifier {
  #prevHash = GENESIS_HASH;
  #expectedId = 1;
  #checked = 0;

  constructor(private readonly expected: AuditHead | undefined) {}

  /** A failed verification at this row, or undefined when the row is sound. */
  row(row: StoredAuditRow): AuditVerification | undefined {
    this.#checked++;
    const fail = { ok: false, checked: this.#checked, firstBadId: row.id };
    let details: JsonValue;
    try {
      details = JSON.parse(row.details) as JsonValue;
    } catch {
      return fail;
    }
    const content = { id: row.id, timestamp: row.timestamp, actor: row.actor, action: row.action, entity: row.entity, details };
    const storedAsWritten = row.details === JSON.stringify(details);
    if (row.id !== this.#expectedId || row.prev_hash !== this.#prevHash || !storedAsWritten || auditHash(this.#prevHash, content) !== row.hash) return fail;
    if (this.expected && row.id === this.expected.id && row.hash !== this.expected.hash) return fail;
    this.#prevHash = row.hash;
    this.#expectedId++;
    return undefined;
  }

  /** After the last row: entries up to the expected head must all have been there. */
  end(): AuditVerification {
    if (this.expected && this.#expectedId <= this.expected.id) return { ok: false, checked: this.#checked, firstBadId: this.#expectedId };
    return { ok: true, checked: this.#checked };
  }
}
