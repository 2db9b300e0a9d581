/**
 * `tradelite audit verify`: the hash chain recomputed and every rollup's bars re-digested
 * (together they show the stored bars are the ones recorded); `tradelite audit rollup`: the open
 * rollups of live appends closed into entries now (src/domain/audit-rollup.ts).
 */
import type { RollupVerification, Store } from "../../src/mod.ts";
import { EXIT_FAILURE, EXIT_OK, formatNumber, openCliStore, parseOptions, printSummary, STORE_OPTIONS, STORE_USAGE, storeChoice, text, UsageError, type Command } from "./shared.ts";

const USAGE = `usage: tradelite audit verify [--db PATH | --database-url URL] [--json]
       tradelite audit rollup [--symbol S] [--due] [--db PATH | --database-url URL] [--json]

verify recomputes the audit log's hash chain and re-digests the bars every rollup recorded (a
bars.rollup entry, or a cache.compact entry's rollup); exit 1 when the chain is broken or a
rollup's bars changed with nothing on the record to say why (a mismatch a later entry or an open
rollup explains is listed, and is not a failure). It also counts the rollups still open.
rollup closes the open rollups of live appends (one-bar writes, the session cache's) into
entries now: every symbol's, --symbol S's only, or with --due only those open for a day or
longer (what maintain and the store's maintenance close). Run it before reading the log when the
entries must account for every bar acknowledged so far.
--json prints the result as one JSON object: verify { ok, chain, rollups }, rollup { closed }.

${STORE_USAGE}`;

const OPTIONS = { ...STORE_OPTIONS, symbol: { type: "string" }, due: { type: "boolean" }, json: { type: "boolean" } } as const;

const ACTIONS = ["verify", "rollup"] as const;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, OPTIONS);
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  const [action, ...rest] = positionals;
  if (action !== "verify" && action !== "rollup") {
    throw new UsageError(action === undefined ? "audit takes verify or rollup" : `unknown subcommand ${JSON.stringify(action.slice(0, 40))}; expected verify or rollup`);
  }
  if (rest.length > 0) throw new UsageError(`audit ${action} takes options only`);
  const symbol = text(values, "symbol");
  if (action === "verify" && (symbol !== undefined || values.due)) throw new UsageError("--symbol and --due go with audit rollup");
  const store = await openCliStore(storeChoice(values), { existing: true });
  try {
    return action === "verify" ? await verify(store, Boolean(values.json)) : await rollUp(store, { symbol, due: Boolean(values.due) }, Boolean(values.json));
  } finally {
    await store.close();
  }
}

async function verify(store: Store, json: boolean): Promise<number> {
  const chain = await store.audit.verify();
  const rollups = await store.audit.verifyRollups();
  const ok = chain.ok && rollups.ok;
  if (json) {
    console.log(JSON.stringify({ ok, chain, rollups }));
    return ok ? EXIT_OK : EXIT_FAILURE;
  }
  printSummary(ok ? "audit log verified" : "audit log verification failed", [
    ["chain", chain.ok ? `ok, ${formatNumber(chain.checked)} entries` : `broken at entry ${chain.firstBadId} (${formatNumber(chain.checked)} checked)`],
    ["rollups", `${formatNumber(rollups.checked)} re-digested, ${rollups.mismatches.length} changed since (${rollups.mismatches.filter((each) => each.changedBy === null).length} unexplained)`],
    ["open rollups", rollups.pending],
    ...mismatchLines(rollups),
  ]);
  return ok ? EXIT_OK : EXIT_FAILURE;
}

/** The first mismatches, each with what explains it. */
function mismatchLines(rollups: RollupVerification): [string, string][] {
  const shown = rollups.mismatches.slice(0, 10).map((each): [string, string] => [
    `entry ${each.id}`,
    `${each.symbol} ${new Date(each.start).toISOString()}..${new Date(each.end).toISOString()}: ${each.recorded.stored} bars recorded, ${each.found.stored} stored; ${
      each.changedBy === null ? "nothing on the record explains it" : each.changedBy === "pending" ? "changed by the open rollup" : `changed by entry ${each.changedBy}`
    }`,
  ]);
  if (rollups.mismatches.length > shown.length) shown.push(["", `and ${rollups.mismatches.length - shown.length} more (--json lists them)`]);
  return shown;
}

async function rollUp(store: Store, options: { symbol: string | undefined; due: boolean }, json: boolean): Promise<number> {
  const closed = await store.audit.rollUp({ ...(options.symbol === undefined ? {} : { symbol: options.symbol }), ...(options.due ? { due: true } : {}) });
  if (json) console.log(JSON.stringify({ closed }));
  else console.log(`${closed} rollup(s) closed into audit entries`);
  return EXIT_OK;
}

export const auditCommand: Command = {
  name: "audit",
  summary: "verify the audit log and its rollups; close the open rollups now",
  usage: USAGE,
  options: OPTIONS,
  actions: ACTIONS,
  run,
};
