/**
 * `bun run serve` (and `bun run start`): `tradelite serve`, see scripts/cli/serve.ts.
 */
import { runCli } from "./tradelite.ts";

process.exitCode = await runCli(["serve", ...process.argv.slice(2)]);
