/**
 * model_artifacts on PostgreSQL: one row per (name, version), with the same checks, options and
 * answers as src/sqlite/artifacts.ts. A missing hash or size is computed by streaming the file
 * before the transaction; register and remove record their audit entry in the same transaction.
 * params, metrics and tags are kept as the JSON text the domain wrote (text, not jsonb), so they
 * read back exactly as on SQLite.
 */
import type { SQL } from "bun";
import { checkActor } from "../domain/audit.ts";
import { artifactOfRow, assertArtifactName, checkArtifactQuery, type ArtifactQuery, type StoredArtifactRow, type Artifact, type ArtifactInput, type RegisterOptions } from "../domain/artifact.ts";
import { ConflictError } from "../domain/errors.ts";
import type { JsonValue } from "../domain/json.ts";
import { resolveArtifactFile } from "../domain/artifact-file.ts";
import { lockAuditChain, type AuditRecorder } from "./audit.ts";
import { READ_COMMITTED, type PostgresPool } from "./connection.ts";

type ArtifactRow = StoredArtifactRow;

export type { ArtifactQuery };

const toArtifact = artifactOfRow;

export function createArtifactRepository(pool: PostgresPool, audit: AuditRecorder) {
  return {
    /**
     * Registers (name, version). Registering the same pair again is a no-op when the hash is the
     * same, and a ConflictError otherwise (also when the first registration had no hash). An
     * omitted hash or size is computed from the file when it exists; a given size that disagrees
     * with the file is refused. `actor` (default: the store's) is fixed before hashing;
     * `readFile: false` records the metadata as given without touching the file (sha256 and size
     * are then required).
     */
    async register(input: ArtifactInput, options: RegisterOptions = {}): Promise<Artifact> {
      const { actor = audit.actor(), readFile = true } = options ?? {};
      const resolved = await resolveArtifactFile(input, readFile);
      const { sha256, size, ...checked } = resolved;
      checkActor(actor);
      const hash = sha256 ?? null;
      const bytes = size ?? null;
      return pool.run((sql) =>
        sql.begin(READ_COMMITTED, async (tx) => {
          // The chain's lock also serializes registrations: a second register of the same pair
          // waits here and then sees the first one's row, so it answers as SQLite does (no-op or
          // ConflictError) instead of failing on the unique constraint.
          await lockAuditChain(tx);
          const [existing] = await selectOne(tx, checked.name, checked.version);
          if (existing) {
            if (existing.sha256 !== null && existing.sha256 === hash) return toArtifact(existing);
            throw new ConflictError(
              `${checked.name} ${checked.version} is already registered` +
                (existing.sha256 ? ` with sha256 ${existing.sha256}` : " without a hash"),
            );
          }
          const createdAt = Date.now();
          await tx`INSERT INTO model_artifacts (name, version, path, sha256, size, created_at, params, metrics, tags)
                   VALUES (${checked.name}, ${checked.version}, ${checked.path}, ${hash}, ${bytes}, ${createdAt},
                           ${checked.params}, ${checked.metrics}, ${checked.tags})`;
          await audit(tx, actor, "artifacts.register", `${checked.name}@${checked.version}`, { size: bytes, sha256: hash });
          const [inserted] = await selectOne(tx, checked.name, checked.version);
          return toArtifact(inserted!);
        }),
      );
    },

    /** The version asked for, or the latest registered when version is omitted; null when none. */
    async get(name: string, version?: string): Promise<Artifact | null> {
      assertArtifactName(name, "name");
      if (version !== undefined) assertArtifactName(version, "version");
      const rows = await pool.run((sql) =>
        version === undefined
          ? (sql`SELECT name, version, path, sha256, size::float8 AS size, created_at::float8 AS created_at, params, metrics, tags
                 FROM model_artifacts WHERE name = ${name} ORDER BY created_at DESC, id DESC LIMIT 1` as Promise<ArtifactRow[]>)
          : selectOne(sql, name, version),
      );
      return rows.length === 0 ? null : toArtifact(rows[0]!);
    },

    /** By name in code point order (SQLite's BINARY order), then registration order. */
    async list(query: ArtifactQuery = {}): Promise<Artifact[]> {
      const { name: n, tag: t } = checkArtifactQuery(query);
      // tags is a JSON array of strings (the domain writes it); containment of [tag] is "has tag".
      const rows = await pool.run(
        async (sql) =>
          (await sql`SELECT name, version, path, sha256, size::float8 AS size, created_at::float8 AS created_at, params, metrics, tags
                     FROM model_artifacts
                     WHERE (${n}::text IS NULL OR name = ${n}::text)
                       AND (${t}::text IS NULL OR tags::jsonb @> jsonb_build_array(${t}::text))
                     ORDER BY name COLLATE "C", created_at, id`) as ArtifactRow[],
      );
      return rows.map(toArtifact);
    },

    /** True when it was registered. The file itself is not touched. */
    async remove(name: string, version: string): Promise<boolean> {
      assertArtifactName(name, "name");
      assertArtifactName(version, "version");
      const actor = audit.actor();
      return pool.run((sql) =>
        sql.begin(READ_COMMITTED, async (tx) => {
          await lockAuditChain(tx);
          const removed = await tx`DELETE FROM model_artifacts WHERE name = ${name} AND version = ${version}`;
          if (removed.count === 0) return false;
          await audit(tx, actor, "artifacts.remove", `${name}@${version}`, null);
          return true;
        }),
      );
    },
  };
}

function selectOne(sql: SQL, name: string, version: string): Promise<ArtifactRow[]> {
  return sql`SELECT name, version, path, sha256, size::float8 AS size, created_at::float8 AS created_at, params, metrics, tags
             FROM model_artifacts WHERE name = ${name} AND version = ${version}` as Promise<ArtifactRow[]>;
}

export type ArtifactRepository = ReturnType<typeof createArtifactRepository>;
