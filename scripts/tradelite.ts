#!/usr/bin/env bun
/**
 * The `tradelite` command (package.json "bin"), and behind it every `bun run <name>` script:
 * one subcommand per task. Exit codes: 0 ok, 1 failure, 2 usage mistake.
 */
import { join } from "node:path";
import packageJson from "../package.json" with { type: "json" };
import { adjustmentsCommand } from "./cli/adjustments.ts";
import { auditCommand } from "./cli/audit.ts";
import { calendarCommand } from "./cli/calendar.ts";
import { compactCommand } from "./cli/compact.ts";
import { completionCommand } from "./cli/completion.ts";
import { dailyDiffCommand } from "./cli/daily-diff.ts";
import { demoCommand } from "./cli/demo.ts";
import { exportCommand } from "./cli/export.ts";
import { gapsCommand } from "./cli/gaps.ts";
import { importCommand } from "./cli/import.ts";
import { initCommand } from "./cli/init.ts";
import { instrumentsCommand } from "./cli/instruments.ts";
import { maintainCommand } from "./cli/maintain.ts";
import { migrateCommand } from "./cli/migrate.ts";
import { overviewCommand } from "./cli/overview.ts";
import { serveCommand } from "./cli/serve.ts";
import { settingsCommand } from "./cli/settings.ts";
import { snapshotCommand } from "./cli/snapshot.ts";
import { tailCommand } from "./cli/tail.ts";
import { describeError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, parseOptions, UnknownOptionError, UsageError, type Command } from "./cli/shared.ts";

const benchCommand: Command = {
  name: "bench",
  summary: "the benchmark (bun run bench): tradelite against bare code, as ratios",
  usage: "usage: tradelite bench [--quick]\n\nRuns scripts/bench.ts; see the README's Benchmark section.",
  options: { quick: { type: "boolean" } },
  async run(argv) {
    const { values, positionals } = parseOptions(argv, this.options);
    if (values.help) {
      console.log(this.usage);
      return EXIT_OK;
    }
    if (positionals.length > 0) throw new UsageError("bench takes options only");
    const child = Bun.spawn(["bun", join(import.meta.dir, "bench.ts"), ...argv], { stdio: ["inherit", "inherit", "inherit"] });
    return child.exited;
  },
};

export const COMMANDS: readonly Command[] = [
  initCommand,
  settingsCommand,
  importCommand,
  exportCommand,
  overviewCommand,
  snapshotCommand,
  tailCommand,
  gapsCommand,
  calendarCommand,
  instrumentsCommand,
  adjustmentsCommand,
  dailyDiffCommand,
  compactCommand,
  maintainCommand,
  auditCommand,
  migrateCommand,
  demoCommand,
  serveCommand,
  benchCommand,
  completionCommand(() => COMMANDS),
];

const HELP = `usage: tradelite <command> [options]     (tradelite help <command> for one command)

commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(10)} ${command.summary}`).join("\n")}

The store is $TRADELITE_DB (else ./data/trading.db), or PostgreSQL at $TRADELITE_DATABASE_URL
when $TRADELITE_BACKEND is postgres; every command that opens one also takes --db PATH,
--database-url URL and --backend. The session cache is $TRADELITE_CACHE_DIR (else
./data/session_cache, or --cache-dir). Every command reads the database's time zone and bar
stamping from the database (tradelite settings). tradelite --version prints the version.
Exit codes: 0 ok, 1 failure, 2 usage mistake.`;

/** Runs one command line; resolves with the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-v") {
    console.log(packageJson.version);
    return EXIT_OK;
  }
  if (name === "help" && rest.length > 0) return help(rest);
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(HELP);
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) return unknownCommand(name);
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UnknownOptionError) {
      console.error(`tradelite ${command.name}: unknown option ${error.option}; tradelite ${command.name} --help lists them`);
      return EXIT_USAGE;
    }
    if (error instanceof UsageError) {
      console.error(`tradelite ${command.name}: ${error.message}\n\n${command.usage}`);
      return EXIT_USAGE;
    }
    console.error(`tradelite ${command.name}: ${describeError(error)}`);
    if (process.env.TRADELITE_DEBUG) console.error(error);
    return EXIT_FAILURE;
  }
}

/** `tradelite help CMD`: the command's own usage. */
function help([name, ...extra]: string[]): number {
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) return unknownCommand(name!);
  if (extra.length > 0) {
    console.error(`tradelite help: names one command (tradelite help ${command.name})`);
    return EXIT_USAGE;
  }
  console.log(command.usage);
  return EXIT_OK;
}

function unknownCommand(name: string): number {
  console.error(`tradelite: unknown command ${JSON.stringify(name.slice(0, 40))}\n\n${HELP}`);
  return EXIT_USAGE;
}

if (import.meta.main) process.exitCode = await runCli(process.argv.slice(2));
