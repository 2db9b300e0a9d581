/**
 * The `tradelite` command as users run it: `bun scripts/tradelite.ts <command>` in its own
 * process, from the project root, with none of the caller's TRADELITE_* variables.
 */
import { PROJECT_ROOT, serverEnv } from "./api-server.ts";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const child = Bun.spawn(["bun", "scripts/tradelite.ts", ...args], { cwd: PROJECT_ROOT, env: serverEnv(env), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}
