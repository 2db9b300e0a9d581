/**
 * Scratch PostgreSQL databases for the tests and the benchmark: created on the server `adminUrl`
 * names, under a name of our own making (never input), and dropped (closing what is still
 * connected) when done. A database of that name left by an earlier run is dropped first.
 */
import { SQL } from "bun";

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createScratchDatabase(adminUrl: string, name: string): Promise<ScratchDatabase> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  const run = async (statement: string) => {
    const admin = new SQL({ url: adminUrl, max: 1 });
    try {
      await admin.unsafe(statement);
    } finally {
      await admin.close();
    }
  };
  await run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
