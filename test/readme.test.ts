/**
 * The README and docs/ stay true: every TypeScript block in them runs (and type-checks) as an app
 * would run it, importing "tradelite" through the package's own entry; every `tradelite` command
 * and flag, `bun run` script, `TRADELITE_*` variable, HTTP route, error code and relative link
 * they name exists; the README's map of which folder imports which matches the import statements.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { createApp } from "../src/api/app.ts";
import { openStore } from "../src/mod.ts";
import { COMMANDS } from "../scripts/tradelite.ts";
import { tempDir } from "./support/files.ts";

const root = join(import.meta.dir, "..");
const PAGES = ["README.md", ...readdirSync(join(root, "docs")).filter((name) => name.endsWith(".md")).sort().map((name) => `docs/${name}`)];
const text = new Map(PAGES.map((page) => [page, readFileSync(join(root, page), "utf8")]));
const readme = text.get("README.md")!;

interface Fence {
  page: string;
  lang: string;
  body: string;
  /** The nearest heading above the block, to name it in failures. */
  heading: string;
}

/** Fenced blocks, in order; markdown outside them is left to the other readers. */
function fencesOf(page: string): Fence[] {
  const fences: Fence[] = [];
  let heading = "";
  let open: Fence | undefined;
  for (const line of text.get(page)!.split("\n")) {
    if (open) {
      if (line.startsWith("```")) {
        fences.push(open);
        open = undefined;
      } else open.body += `${line}\n`;
    } else if (line.startsWith("```")) open = { page, lang: line.slice(3).trim(), body: "", heading };
    else if (line.startsWith("#")) heading = line.replace(/^#+\s*/, "");
  }
  return fences;
}

/** The page without its fenced blocks: prose, tables, headings. */
function outsideFences(page: string): string {
  return text.get(page)!.replace(/^```[\s\S]*?^```$/gm, "");
}

/** What the page shows as code: fenced blocks and `inline spans` (prose says "tradelite ships ..."). */
function codeOf(page: string): string[] {
  const spans = [...outsideFences(page).matchAll(/`([^`\n]+)`/g)].map((match) => match[1]!);
  return [...fencesOf(page).map((fence) => fence.body), ...spans];
}

const typescript = PAGES.flatMap(fencesOf).filter((fence) => fence.lang === "ts" || fence.lang === "typescript");

/** What a block must print, beyond running cleanly: the claims its comments make. */
const PRINTS: Record<string, string[]> = {
  "README.md: Example": [
    "wrote 3 bars",
    "2 1705282260000",
    // The five-minute bar is stamped 09:35 Shanghai = 01:35 UTC.
    `timestamp: ${Date.parse("2024-01-15T09:35:00+08:00")}`,
    `field: "high"`,
    "count: 3",
  ],
  "docs/cache.md: The session cache": ["written: 2", "compacted: false", "true", "row_count: 2"],
  // 33.5 x 5.714 / 6.0581, and the ex-date's own close raw.
  "docs/library.md: Adjusted prices": ["31.60 31.90"],
  "docs/library.md: Watching bars as they are stored": ["100 false", "400 false", "500 true", "replayed 500 true"],
};

/**
 * A scratch app whose node_modules holds this package (and the Bun types), so a block's
 * `import ... from "tradelite"` resolves through package.json's exports as in a user's app.
 */
function scratchApp() {
  const dir = tempDir("tradelite-docs-");
  mkdirSync(dir.file("node_modules/@types"), { recursive: true });
  symlinkSync(root, dir.file("node_modules/tradelite"), "dir");
  symlinkSync(join(root, "node_modules/@types/bun"), dir.file("node_modules/@types/bun"), "dir");
  return dir;
}

async function run(cmd: string[], cwd: string) {
  const child = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { stdout, stderr, code };
}

describe("TypeScript blocks", () => {
  test("there are some: the README's example and the cache's", () => {
    expect(Object.keys(PRINTS).every((name) => typescript.some((fence) => `${fence.page}: ${fence.heading}` === name))).toBe(true);
  });

  for (const [index, fence] of typescript.entries()) {
    test(`${fence.page} "${fence.heading}" (block ${index}) runs as written and prints what its comments say`, async () => {
      const app = scratchApp();
      try {
        writeFileSync(app.file("block.ts"), fence.body);
        const { stdout, stderr, code } = await run(["bun", "block.ts"], app.path);
        expect(stderr).toBe("");
        expect(code).toBe(0);
        for (const expected of PRINTS[`${fence.page}: ${fence.heading}`] ?? []) expect(stdout).toContain(expected);
      } finally {
        app.cleanup();
      }
    });
  }

  test("every block type-checks against the package's types (tsc, the project's settings)", async () => {
    const app = scratchApp();
    try {
      typescript.forEach((fence, index) => writeFileSync(app.file(`block-${index}.ts`), fence.body));
      writeFileSync(app.file("tsconfig.json"), JSON.stringify({ extends: join(root, "tsconfig.json"), include: ["*.ts"] }));
      const { stdout, stderr, code } = await run([join(root, "node_modules/.bin/tsc"), "--noEmit", "-p", "tsconfig.json"], app.path);
      expect(`${stdout}${stderr}`).toBe("");
      expect(code).toBe(0);
    } finally {
      app.cleanup();
    }
  });
});

describe("what the pages name exists", () => {
  test("every `tradelite X` is a command, with only the flags its --help lists", () => {
    const missing: string[] = [];
    let seen = 0;
    for (const page of PAGES) {
      for (const code of codeOf(page)) {
        for (const match of code.matchAll(/(?:^|[\s(|])tradelite ([a-z][a-z-]*)([^\n|]*)/g)) {
          seen++;
          const command = COMMANDS.find((candidate) => candidate.name === match[1]);
          if (!command && match[1] !== "help") {
            missing.push(`${page}: tradelite ${match[1]}`);
            continue;
          }
          for (const [flag] of match[2]!.matchAll(/--[a-z][a-z-]*/g)) {
            if (command && !command.usage.includes(flag)) missing.push(`${page}: tradelite ${match[1]} ${flag}`);
          }
        }
      }
    }
    expect(seen).toBeGreaterThan(20);
    expect(missing).toEqual([]);
  });

  test("every `bun run X` is a script in package.json, and every script is shown", () => {
    const scripts = Object.keys(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts);
    const missing = PAGES.flatMap((page) =>
      [...text.get(page)!.matchAll(/bun run ([a-z][\w:-]*)/g)].map((match) => match[1]!).filter((name) => !scripts.includes(name)).map((name) => `${page}: bun run ${name}`),
    );
    expect(readme).toContain("bun run start");
    expect(missing).toEqual([]);
    const all = [...text.values()].join("\n");
    expect(scripts.filter((name) => !all.includes(`bun run ${name}`))).toEqual([]);
  });

  test("every command of scripts/tradelite.ts has its row in docs/cli.md", () => {
    const cli = text.get("docs/cli.md")!;
    expect(COMMANDS.map((command) => command.name).filter((name) => !cli.includes(`| \`tradelite ${name}`))).toEqual([]);
  });

  test("every TRADELITE_* variable is read somewhere in src/, scripts/, test/ or .ci/, and every one read is documented", () => {
    const sources = ["src", "scripts", "test", ".ci"]
      .flatMap((folder) => filesUnder(join(root, folder)))
      .filter((file) => file !== import.meta.path && !file.includes(`${sep}fixtures${sep}`))
      .map((file) => readFileSync(file, "utf8"))
      .join("\n");
    const variables = (source: string) => new Set([...source.matchAll(/TRADELITE_[A-Z0-9_]+/g)].map((match) => match[0]));
    const named = variables(PAGES.map((page) => text.get(page)!).join("\n"));
    const read = variables(sources);
    expect(named.size).toBeGreaterThan(10);
    expect([...named].filter((name) => !read.has(name))).toEqual([]);
    expect([...read].filter((name) => !named.has(name))).toEqual([]);
  });

  test("every HTTP route is in docs/http.md, and every path the pages show is a route", async () => {
    const store = await openStore({ backend: "sqlite", path: ":memory:" });
    try {
      const document = (await (await createApp(store).request("http://127.0.0.1/openapi.json")).json()) as { paths: Record<string, unknown> };
      const routes = Object.keys(document.paths);
      expect(routes.length).toBeGreaterThan(20);
      expect(routes.filter((route) => !text.get("docs/http.md")!.includes(route))).toEqual([]);
      const patterns = [...routes, "/openapi.json"].map((route) => new RegExp(`^${route.replace(/\{[^}]+\}/g, "[^/]+")}$`));
      const unknown = PAGES.flatMap((page) =>
        codeOf(page).flatMap((code) => [...code.matchAll(/(?<![A-Za-z.])\/(?:health|openapi\.json|v1\/[^\s?`'"\\)]*)/g)].map((match) => `${page}: ${match[0]}`)),
      ).filter((found) => !patterns.some((pattern) => pattern.test(found.slice(found.indexOf(" ") + 1))));
      expect(unknown).toEqual([]);
    } finally {
      await store.close();
    }
  });

  test("the error codes docs/library.md lists are the ones src/ throws", () => {
    const library = text.get("docs/library.md")!;
    const section = library.slice(library.indexOf("## Errors"), library.indexOf("\n## ", library.indexOf("## Errors") + 1));
    const listed = new Set([...section.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((match) => match[1]!).filter((code) => !/^(SQLITE|PG)_/.test(code)));
    const sources = filesUnder(join(root, "src")).filter((file) => file.endsWith(".ts")).map((file) => readFileSync(file, "utf8")).join("\n");
    const thrown = new Set([...sources.matchAll(/new StorageError\(\s*"([A-Z][A-Z0-9_]+)"/g)].map((match) => match[1]!).filter((code) => !/^SQLITE_/.test(code)));
    expect(thrown.size).toBeGreaterThan(10);
    expect([...thrown].filter((code) => !listed.has(code))).toEqual([]);
    expect([...listed].filter((code) => !sources.includes(`"${code}"`))).toEqual([]);
  });

  test("every relative link points at a file that exists, and at a heading that exists", () => {
    const broken: string[] = [];
    let seen = 0;
    for (const page of PAGES) {
      for (const [, target] of outsideFences(page).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        seen++;
        const [path, anchor] = target!.split("#") as [string, string | undefined];
        const file = path === "" ? join(root, page) : resolve(join(root, dirname(page)), path);
        if (!file.startsWith(root) || !existsSync(file)) broken.push(`${page}: ${target} (no such file)`);
        else if (anchor !== undefined && !headingSlugs(relative(root, file)).includes(anchor)) broken.push(`${page}: ${target} (no such heading)`);
      }
    }
    expect(seen).toBeGreaterThan(10);
    expect(broken).toEqual([]);
  });
});

/** GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces as dashes. */
function headingSlugs(page: string): string[] {
  const counts = new Map<string, number>();
  const markdown = text.get(page) ?? readFileSync(join(root, page), "utf8");
  return [...markdown.replace(/^```[\s\S]*?^```$/gm, "").matchAll(/^#{1,6} (.+)$/gm)].map((match) => {
    const slug = match[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    const count = counts.get(slug) ?? 0;
    counts.set(slug, count + 1);
    return count === 0 ? slug : `${slug}-${count}`;
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe("the README", () => {
  test("is short: at most ~200 lines, the reference is in docs/", () => {
    expect(readme.split("\n").length).toBeLessThanOrEqual(200);
  });

  test("its map of which folder imports which is what the import statements say", () => {
    const map = fencesOf("README.md").find((fence) => fence.heading === "Layout" && fence.body.includes("->"));
    expect(map).toBeDefined();
    const documented = new Map(
      map!.body
        .trim()
        .split("\n")
        .map((line) => {
          const [from, to] = line.split("->").map((side) => side.trim()) as [string, string];
          return [from.replace(/\/$/, ""), to === "nothing of ours" ? [] : to.split(",").map((name) => name.trim()).sort()];
        }),
    );
    const src = join(root, "src");
    // mod.ts and store.ts sit above everything (re-exports; openStore picks a backend).
    const parts = readdirSync(src).filter((name) => name !== "mod.ts" && name !== "store.ts");
    const actual = new Map(
      parts.map((part) => {
        const files = statSync(join(src, part)).isDirectory() ? filesUnder(join(src, part)) : [join(src, part)];
        const imported = new Set<string>();
        for (const file of files.filter((name) => name.endsWith(".ts"))) {
          for (const [, specifier] of readFileSync(file, "utf8").matchAll(/(?:from|import)\s+"(\.[^"]+)"/g)) {
            const target = relative(src, resolve(dirname(file), specifier!));
            const top = target.split(sep)[0]!;
            if (!target.startsWith("..") && top !== part) imported.add(top.replace(/\.ts$/, ""));
          }
        }
        return [part, [...imported].sort()] as const;
      }),
    );
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(actual));
  });
});
