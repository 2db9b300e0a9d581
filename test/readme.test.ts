import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./support/files.ts";

const root = join(import.meta.dir, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");

test("the README example runs as written and prints what its comments say", async () => {
  const example = /## Example\s+```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(example).toBeDefined();
  const dir = tempDir("tradelite-readme-");
  try {
    const script = example!.replace(`from "tradelite"`, `from ${JSON.stringify(join(root, "src/mod.ts"))}`);
    writeFileSync(dir.file("example.ts"), script);
    const child = Bun.spawn(["bun", "example.ts"], { cwd: dir.path, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain("wrote 3 bars");
    expect(stdout).toContain("2 1705282260000");
    // The five-minute bar is stamped 09:35 Shanghai = 01:35 UTC.
    expect(stdout).toContain(`timestamp: ${Date.parse("2024-01-15T09:35:00+08:00")}`);
    expect(stdout).toContain(`field: "high"`);
    expect(stdout).toContain(`count: 3`);
  } finally {
    dir.cleanup();
  }
});

test("every `bun run` command the README shows is a script in package.json", () => {
  const scripts = Object.keys(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts);
  const shown = [...readme.matchAll(/bun run ([a-z][\w:-]*)/g)].map((match) => match[1]!);
  expect(shown.length).toBeGreaterThan(3);
  for (const name of new Set(shown)) expect(scripts).toContain(name);
});
