/**
 * An artifact's file, for register on every backend: its SHA-256 and size read when the caller
 * did not give them (streamed, yielding now and then), checked against what the caller gave, or
 * not touched at all (`readFile: false`, what the HTTP API uses).
 */
import { existsSync, statSync } from "node:fs";
import { checkArtifact, type ArtifactInput } from "./artifact.ts";
import { StorageError, ValidationError } from "./errors.ts";

/** Streams a file through SHA-256; returns the hex digest and the bytes read. */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hasher = new Bun.CryptoHasher("sha256");
  let size = 0;
  let chunks = 0;
  for await (const chunk of Bun.file(path).stream()) {
    hasher.update(chunk);
    size += chunk.byteLength;
    // File chunks arrive without yielding to timers; let the event loop run now and then so a
    // multi-gigabyte model does not freeze a server for seconds.
    if (++chunks % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return { sha256: hasher.digest("hex"), size };
}

/** The checked input, with its hash and size as register records them. */
export async function resolveArtifactFile(input: ArtifactInput, readFile: boolean) {
    const checked = checkArtifact(input);
    let { sha256, size } = checked;
    if (!readFile) {
      const missing = (["sha256", "size"] as const).filter((field) => checked[field] === undefined);
      if (missing.length > 0) {
        throw new ValidationError(missing.map((field) => ({ field, message: "required when the file is not read (readFile: false)" })));
      }
    } else if ((sha256 === undefined || size === undefined) && existsSync(checked.path)) {
      if (!statSync(checked.path).isFile()) {
        throw new ValidationError([{ field: "path", message: `${checked.path} is not a file` }]);
      }
      if (sha256 === undefined) {
        const hashed = await hashFile(checked.path).catch((error: unknown) => {
          throw new StorageError("ARTIFACT_READ", `cannot read ${checked.path}: ${(error as Error).message}`, { cause: error });
        });
        if (size !== undefined && size !== hashed.size) {
          throw new ValidationError([{ field: "size", message: `given ${size} bytes, the file has ${hashed.size}` }]);
        }
        ({ sha256, size } = hashed);
      } else {
        size = statSync(checked.path).size;
      }
    } else if (sha256 !== undefined && size !== undefined && existsSync(checked.path)) {
      // Both given: the size is cheap to check; the hash is trusted (re-hashing is the caller's call).
      const actual = statSync(checked.path).size;
      if (size !== actual) throw new ValidationError([{ field: "size", message: `given ${size} bytes, the file has ${actual}` }]);
    }
  return { ...checked, sha256, size };
}
