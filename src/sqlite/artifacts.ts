/**
 * model_artifacts: one row per (name, version). Registering computes a missing hash and size by
 * streaming the file (a 2 GB model is never read into memory) before the write transaction.
 */
import { artifactOfRow, assertArtifactName, checkArtifactQuery, type ArtifactQuery, type StoredArtifactRow, type Artifact, type ArtifactInput, type RegisterOptions } from "../domain/artifact.ts";
import { ConflictError } from "../domain/errors.ts";
import type { JsonValue } from "../domain/json.ts";
import type { AuditRecorder } from "./audit.ts";
import { resolveArtifactFile } from "../domain/artifact-file.ts";
import { guard, type Connection } from "./connection.ts";

type ArtifactRow = StoredArtifactRow;

const COLUMNS = "name, version, path, sha256, size, created_at, params, metrics, tags";

export type { ArtifactQuery };


export function createArtifactRepository(conn: Connection, audit: AuditRecorder) {
  const selectOne = conn.prepare<ArtifactRow>(`SELECT ${COLUMNS} FROM model_artifacts WHERE name = ? AND version = ?`);
  const selectLatest = conn.prepare<ArtifactRow>(
    `SELECT ${COLUMNS} FROM model_artifacts WHERE name = ? ORDER BY created_at DESC, id DESC LIMIT 1`,
  );
  const selectMany = conn.prepare<ArtifactRow>(
    `SELECT ${COLUMNS} FROM model_artifacts WHERE (? IS NULL OR name = ?) ` +
      "AND (? IS NULL OR EXISTS (SELECT 1 FROM json_each(model_artifacts.tags) WHERE value = ?)) ORDER BY name, created_at, id",
  );
  const insert = conn.prepare(`INSERT INTO model_artifacts (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const remove = conn.prepare("DELETE FROM model_artifacts WHERE name = ? AND version = ?");
  const toArtifact = artifactOfRow;

  return {
    /**
     * Registers (name, version). Registering the same pair again is a no-op when the hash is the
     * same, and a ConflictError otherwise. An omitted hash or size is computed from the file
     * when it exists; a given size that disagrees with the file is refused. Options: `actor`
     * (default: the store's) is who the audit entry names, fixed before hashing, which is
     * asynchronous; `readFile: false` records the metadata as given without touching the file
     * (sha256 and size are then required): the HTTP API registers this way, so a request cannot
     * make the server read a file or learn anything about one.
     */
    async register(input: ArtifactInput, options: RegisterOptions = {}): Promise<Artifact> {
      const { actor = audit.actor(), readFile = true } = options ?? {};
      const resolved = await resolveArtifactFile(input, readFile);
      const { sha256, size, ...checked } = resolved;
      return audit.as(actor, () => conn.writeTransaction(() => {
        const existing = selectOne.get(checked.name as never, checked.version as never);
        if (existing) {
          if (existing.sha256 !== null && existing.sha256 === (sha256 ?? null)) return toArtifact(existing);
          throw new ConflictError(
            `${checked.name} ${checked.version} is already registered` +
              (existing.sha256 ? ` with sha256 ${existing.sha256}` : " without a hash"),
          );
        }
        const createdAt = Date.now();
        insert.run(
          checked.name as never, checked.version as never, checked.path as never, (sha256 ?? null) as never,
          (size ?? null) as never, createdAt as never, checked.params as never, checked.metrics as never, checked.tags as never,
        );
        audit("artifacts.register", `${checked.name}@${checked.version}`, { size: size ?? null, sha256: sha256 ?? null });
        return toArtifact(selectOne.get(checked.name as never, checked.version as never)!);
      }));
    },

    /** The version asked for, or the latest registered when version is omitted; null when none. */
    get(name: string, version?: string): Artifact | null {
      assertArtifactName(name, "name");
      if (version !== undefined) assertArtifactName(version, "version");
      const row = guard(() => (version === undefined ? selectLatest.get(name as never) : selectOne.get(name as never, version as never)));
      return row ? toArtifact(row) : null;
    },

    list(query: ArtifactQuery = {}): Artifact[] {
      const { name: n, tag: t } = checkArtifactQuery(query);
      return guard(() => selectMany.all(n as never, n as never, t as never, t as never)).map(toArtifact);
    },

    /** True when it was registered. The file itself is not touched. */
    remove(name: string, version: string): boolean {
      assertArtifactName(name, "name");
      assertArtifactName(version, "version");
      return conn.writeTransaction(() => {
        const removed = remove.run(name as never, version as never).changes > 0;
        if (removed) audit("artifacts.remove", `${name}@${version}`, null);
        return removed;
      });
    },
  };
}

export type ArtifactRepository = ReturnType<typeof createArtifactRepository>;
