/**
 * The direction check of DESIGN.md's layout: which folder of src/ may import which, read from
 * the import statements themselves (static imports, re-exports, `import type`, dynamic
 * `import("...")`), so a wrong arrow fails the tests, naming the file and the import.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

export interface SourceFile {
  /** Relative to the repository, with "/" separators: "src/cache/session-cache.ts". */
  path: string;
  text: string;
}

/** The storage backends: each mirrors the others (sqlite, postgres) or carries one (worker). */
const BACKENDS = ["sqlite", "postgres", "worker"] as const;

/** The cache sits above the backends: a backend lends it an adapter through src/domain, never imports it. */
const BACKEND_NOT_CACHE = { folders: ["cache"], why: "the cache is above the backends; its interface is in src/domain" };

/** Folder of src/ -> the folders of src/ it must not import, with why. */
const FORBIDDEN: Record<string, { folders: readonly string[]; why: string }[]> = {
  domain: [{ folders: [...BACKENDS, "cache", "api", "migrate", "import"], why: "the domain imports no backend, cache, API or tool" }],
  sqlite: [{ folders: ["postgres", "worker"], why: "a backend imports no other backend" }, BACKEND_NOT_CACHE],
  postgres: [{ folders: ["sqlite", "worker"], why: "a backend imports no other backend" }, BACKEND_NOT_CACHE],
  worker: [{ folders: ["postgres"], why: "the worker carries SQLite, not PostgreSQL" }, BACKEND_NOT_CACHE],
  cache: [{ folders: [...BACKENDS], why: "the cache runs on the cache interface in src/domain, not on a backend" }],
  api: [{ folders: [...BACKENDS, "cache"], why: "the API sees the Store and CacheService interfaces, never an implementation" }],
};

/** The domain must not reach storage or HTTP through a package either. */
const FORBIDDEN_PACKAGES: Record<string, readonly string[]> = {
  domain: ["bun:sqlite", "bun", "hono", "@hono/zod-openapi", "@hono/zod-validator"],
  cache: ["bun:sqlite"],
};

// `import x from "m"`, `import type { T } from "m"`, `export { x } from "m"`, `import "m"`, `import("m")`.
const IMPORT = /(?:^|[\n;])\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** The module specifiers `text` imports, in order. */
export function importsOf(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(IMPORT)) found.push((match[1] ?? match[2])!);
  return found;
}

/** "src/cache/session-cache.ts" -> "cache"; a file directly in src/ -> "" (the root). */
function folderOf(path: string): string | null {
  const parts = path.split("/");
  if (parts[0] !== "src") return null;
  return parts.length > 2 ? parts[1]! : "";
}

/** Every import that points the wrong way, as "file: import (why)". */
export function dependencyViolations(files: readonly SourceFile[]): string[] {
  const problems: string[] = [];
  for (const file of files) {
    const from = folderOf(file.path);
    if (from === null) continue;
    for (const specifier of importsOf(file.text)) {
      if (!specifier.startsWith(".")) {
        if (FORBIDDEN_PACKAGES[from]?.includes(specifier)) problems.push(`${file.path}: imports "${specifier}" (src/${from} imports no storage or HTTP package)`);
        continue;
      }
      const target = join(dirname(file.path), specifier).split(sep).join("/");
      const to = folderOf(target);
      if (to === null || to === from) continue;
      for (const rule of FORBIDDEN[from] ?? []) {
        if (rule.folders.includes(to)) problems.push(`${file.path}: imports "${specifier}" (src/${to}; ${rule.why})`);
      }
    }
  }
  return problems;
}

/** Every .ts file under `root`/src, read. */
export function readSourceFiles(root: string): SourceFile[] {
  const files: SourceFile[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const full = join(folder, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".ts")) files.push({ path: relative(root, full).split(sep).join("/"), text: readFileSync(full, "utf8") });
    }
  };
  walk(resolve(root, "src"));
  return files;
}
