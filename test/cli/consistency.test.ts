/**
 * What every `tradelite` command has in common, through the real process: --version, help CMD,
 * parse errors in the project's words, --json on every command that prints a result, a symbol
 * with no bars refused with a hint, and shell completion generated from the commands' options
 * (asked of a real bash).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import packageJson from "../../package.json" with { type: "json" };
import { COMMANDS } from "../../scripts/tradelite.ts";
import { cli } from "../support/cli.ts";
import { tempDir } from "../support/files.ts";
import { realDataPath, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";

const dir = tempDir("tradelite-cli-consistency-");
afterAll(() => dir.cleanup());

describe("the command line", () => {
  test("tradelite --version prints package.json's version", async () => {
    const run = await cli(["--version"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${packageJson.version}\n`);
  });

  test("tradelite help CMD prints CMD's own usage, the same as CMD --help; help of an unknown command is exit 2", async () => {
    for (const command of COMMANDS) {
      const help = await cli(["help", command.name]);
      expect({ command: command.name, code: help.code }).toEqual({ command: command.name, code: 0 });
      expect(help.stdout).toBe(`${command.usage}\n`);
      expect(help.stdout).toContain(`usage: tradelite ${command.name}`);
    }
    const general = await cli(["help"]);
    expect(general.stdout).toContain("usage: tradelite <command>");
    const unknown = await cli(["help", "imprt"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "imprt"');
  });

  test("an unknown option is exit 2 in our words, on every command, and touches nothing", async () => {
    const db = dir.file("untouched.db");
    for (const command of COMMANDS) {
      const run = await cli([command.name, "--nope", "--db", db]);
      expect({ command: command.name, code: run.code, stderr: run.stderr }).toEqual({
        command: command.name,
        code: 2,
        stderr: `tradelite ${command.name}: unknown option --nope; tradelite ${command.name} --help lists them\n`,
      });
    }
    const value = await cli(["export", "X", "--start"]);
    expect(value.code).toBe(2);
    expect(value.stderr).toStartWith("tradelite export: --start needs a value\n");
    expect(existsSync(db)).toBe(false);
  });
});

describe("a symbol with no bars", () => {
  test("export of a symbol never stored is exit 1, with the stored symbol it differs from in case as a hint; an empty range of a stored one is exit 0", async () => {
    const env = { TRADELITE_DB: dir.file("hint.db") };
    expect((await cli(["import", realDataPath(TDX_INDEX_1MIN), "--timezone", "Asia/Shanghai"], env)).code).toBe(0);
    const nope = await cli(["export", "NOPE"], env);
    expect(nope.code).toBe(1);
    expect(nope.stderr).toBe("tradelite export: no bars for NOPE\n");
    expect(nope.stdout).toBe("");
    const out = dir.file("wrong-case.csv");
    const wrongCase = await cli(["export", "000001.sh", "--out", out], env);
    expect(wrongCase.code).toBe(1);
    expect(wrongCase.stderr).toBe("tradelite export: no bars for 000001.sh; did you mean 000001.SH?\n");
    expect(existsSync(out)).toBe(false);
    const emptyRange = await cli(["export", "000001.SH", "--start", "2030-01-01"], env);
    expect(emptyRange.code).toBe(0);
    expect(emptyRange.stdout).toBe("timestamp,open,high,low,close,volume,amount\n");
  });

  test("gaps and daily-diff of a symbol never stored are exit 1 with the same hint, not a clean report", async () => {
    const env = { TRADELITE_DB: dir.file("hint-gaps.db") };
    expect((await cli(["import", realDataPath(TDX_INDEX_1MIN), "--timezone", "Asia/Shanghai"], env)).code).toBe(0);
    expect((await cli(["settings", "set", "calendar", "XSHG"], env)).code).toBe(0);
    for (const command of ["gaps", "daily-diff"]) {
      const run = await cli([command, "000001.sh"], env);
      expect({ command, code: run.code, stderr: run.stderr }).toEqual({ command, code: 1, stderr: `tradelite ${command}: no bars for 000001.sh; did you mean 000001.SH?\n` });
    }
    // A stored symbol and a range without bars: an empty report, exit 0.
    const empty = await cli(["gaps", "000001.SH", "--start", "2030-01-01", "--json"], env);
    expect(empty.code).toBe(0);
    expect(JSON.parse(empty.stdout)).toMatchObject({ days: [] });
  });
});

describe("--json", () => {
  test("every command that prints a result prints it as one JSON object with --json", async () => {
    const env = { TRADELITE_DB: dir.file("json.db"), TRADELITE_CACHE_DIR: dir.file("json-cache") };
    const json = async (args: string[]) => {
      const run = await cli([...args, "--json"], env);
      // One line on stdout, the object; lines for people (import's per file, progress) go to stderr.
      expect({ args, code: run.code, lines: run.stdout.split("\n").length }).toEqual({ args, code: 0, lines: 2 });
      return JSON.parse(run.stdout) as Record<string, unknown>;
    };
    expect(await json(["init", "--timezone", "Asia/Shanghai"])).toMatchObject({ backend: "sqlite", timezone: "Asia/Shanghai", calendar: null });
    expect(await json(["settings", "set", "calendar", "XSHG"])).toEqual({ key: "calendar", from: null, to: "XSHG", changed: true });
    expect(await json(["settings"])).toMatchObject({ timezone: "Asia/Shanghai", calendar: "XSHG" });
    expect(await json(["import", realDataPath(TDX_INDEX_1MIN), "--cache"])).toMatchObject({ ok: true, files: 1, written: 24_000, badRows: 0 });
    expect(await json(["export", "000001.SH", "--interval", "1d", "--out", dir.file("days.csv")])).toMatchObject({ symbol: "000001.SH", bars: 100, format: "csv", interval: "1d" });
    expect(await json(["overview"])).toMatchObject({ backend: "sqlite", symbols: [{ symbol: "000001.SH", count: 24_000 }] });
    expect(await json(["gaps", "000001.SH"])).toMatchObject({ calendar: "XSHG" });
    expect(await json(["calendar", "list"])).toEqual(expect.arrayContaining([expect.objectContaining({ name: "XSHG" })]));
    expect(await json(["calendar", "show", "XSHE"])).toMatchObject({ name: "XSHE", timezone: "Asia/Shanghai" });
    expect(await json(["calendar", "assign", "000001.SH", "XSHE"])).toEqual({ symbol: "000001.SH", calendar: "XSHE" });
    expect(await json(["daily-diff", "000001.SH"])).toMatchObject({ symbol: "000001.SH" });
    expect(await json(["compact", "--all"])).toMatchObject({ files: [{ symbol: "000001.SH", rowsBefore: 24_000 }] });
    expect(await json(["maintain", "--integrity"])).toMatchObject({ integrity: { ok: true }, checkpoint: { mode: "TRUNCATE" } });
  });
});

describe("shell completion", () => {
  /** What the bash script offers for the words typed so far (the last one being completed). */
  async function complete(words: string[]): Promise<string[]> {
    const script = dir.file("tradelite.bash");
    const generated = await cli(["completion", "bash"]);
    expect(generated.code).toBe(0);
    await Bun.write(script, generated.stdout);
    const quoted = words.map((word) => `'${word}'`).join(" ");
    const probe = `source '${script}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _tradelite; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const bash = Bun.spawnSync(["bash", "-c", probe], { cwd: dir.path });
    expect(bash.stderr.toString()).toBe("");
    return bash.stdout.toString().split("\n").filter(Boolean).sort();
  }

  test("bash completes command names, each command's own options and its first word, from the commands' option lists", async () => {
    expect(await complete(["tradelite", "ex"])).toEqual(["export"]);
    expect(await complete(["tradelite", "c"])).toEqual(["calendar", "compact", "completion"]);
    expect(await complete(["tradelite", "export", "--d"])).toEqual(["--database-url", "--db"]);
    expect(await complete(["tradelite", "calendar", ""])).toEqual(["assign", "import", "list", "show"]);
    expect(await complete(["tradelite", "completion", ""])).toEqual(["bash", "zsh"]);
    expect(await complete(["tradelite", "help", "da"])).toEqual(["daily-diff"]);
    for (const command of COMMANDS) {
      const options = [...Object.keys(command.options), "help"].map((name) => `--${name}`).sort();
      expect({ command: command.name, options: await complete(["tradelite", command.name, "--"]) }).toEqual({ command: command.name, options });
    }
    // Not an option: files, as for import's FILE.
    await Bun.write(dir.file("600519.SH.csv"), "");
    expect(await complete(["tradelite", "import", "600519"])).toEqual(["600519.SH.csv"]);
  });

  test("zsh gets a script that registers the same words with compdef", async () => {
    const run = await cli(["completion", "zsh"]);
    expect(run.code).toBe(0);
    expect(run.stdout.split("\n")[0]).toBe("#compdef tradelite");
    expect(run.stdout).toContain("compdef _tradelite tradelite");
    for (const command of COMMANDS) {
      expect(run.stdout).toContain(`    ${command.name}) options=(${[...Object.keys(command.options), "help"].map((name) => `--${name}`).join(" ")});`);
    }
    const wrong = await cli(["completion", "fish"]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("name one shell: bash or zsh");
  });

  // zsh is not on every machine (bash is): without it this test reports itself skipped, never passed.
  const zsh = Bun.which("zsh");
  test.skipIf(zsh === null)("zsh, sourced after compinit, registers _tradelite and offers the same words (compadd stubbed to print them)", async () => {
    const script = dir.file("_tradelite.zsh");
    await Bun.write(script, (await cli(["completion", "zsh"])).stdout);
    const probe = `autoload -Uz compinit; compinit -u -d '${dir.file("zcompdump")}'
source '${script}'
print -r -- "registered $_comps[tradelite]"
compadd() { shift; print -r -- "$@" }
_files() { print -r -- FILES }
words=(tradelite ex); CURRENT=2; _tradelite
words=(tradelite export --d); CURRENT=3; _tradelite
words=(tradelite calendar ''); CURRENT=3; _tradelite
words=(tradelite import 600); CURRENT=3; _tradelite`;
    const run = Bun.spawnSync([zsh!, "-f", "-c", probe], { env: { ...process.env, HOME: dir.path } });
    expect(run.stderr.toString()).toBe("");
    const names = COMMANDS.map((command) => command.name).join(" ");
    const exportOptions = [...Object.keys(COMMANDS.find((command) => command.name === "export")!.options), "help"].map((name) => `--${name}`).join(" ");
    expect(run.stdout.toString().split("\n")).toEqual(["registered _tradelite", `${names} help --help --version`, exportOptions, "list show import assign", "FILES", ""]);
  });
});
