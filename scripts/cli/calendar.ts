/**
 * `tradelite calendar`: the exchange calendars a database holds. `list`, `show NAME`, `import FILE`
 * (a year replaced when its holidays are announced, or a new user calendar), `assign SYMBOL NAME`.
 * Every change is one audit entry.
 */
import { readFileSync } from "node:fs";
import { formatSessions, parseCalendarFile, parseSessions, type CalendarData } from "../../src/domain/calendar.ts";
import { CliFailure, EXIT_OK, formatNumber, openCliStore, parseOptions, STORE_OPTIONS, STORE_USAGE, storeChoice, text, UsageError, type Command } from "./shared.ts";

const USAGE = `usage: tradelite calendar list [--json]
       tradelite calendar show NAME [--year YYYY] [--json]
       tradelite calendar import FILE --calendar NAME --year YYYY [--json]
       tradelite calendar import FILE --calendar NAME --timezone ZONE --sessions "09:30-16:00" [--json]
       tradelite calendar assign SYMBOL NAME|--none [--json]

A calendar is a zone, its session hours and its trading days. XSHG (Shanghai) and XSHE
(Shenzhen) are written into every new database. A calendar file is CSV with a date column
(YYYY-MM-DD) and an optional sessions column ("09:30-11:30 13:00-15:00"; empty: the usual hours).
import with --year replaces that year of a stored calendar (next year's holidays); with
--timezone and --sessions it creates a calendar from the file's days. assign gives a symbol its
own calendar (--none takes it away: the database's default applies again). --json prints the
result as one JSON object (import: the stored calendar's summary; assign: the symbol's calendar).

${STORE_USAGE}`;

const ACTIONS = ["list", "show", "import", "assign"] as const;

const OPTIONS = {
  ...STORE_OPTIONS,
  json: { type: "boolean" },
  year: { type: "string" },
  calendar: { type: "string" },
  timezone: { type: "string" },
  sessions: { type: "string" },
  none: { type: "boolean" },
} as const;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, OPTIONS);
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  const [action, ...rest] = positionals;
  const year = readYear(text(values, "year"));
  const store = await openCliStore(storeChoice(values), { existing: action !== "import" });
  try {
    switch (action) {
      case "list": {
        if (rest.length > 0) throw new UsageError("calendar list takes no arguments");
        const calendars = await store.calendars.list();
        if (values.json) console.log(JSON.stringify(calendars));
        else for (const c of calendars) console.log(`${c.name.padEnd(8)} ${c.timezone.padEnd(18)} ${c.first ?? "-"} .. ${c.last ?? "-"}  ${formatNumber(c.days)} trading days`);
        return EXIT_OK;
      }
      case "show": {
        const name = only(rest, "calendar show NAME");
        const data = await store.calendars.get(name);
        if (!data) throw new CliFailure(`no calendar named ${name} (tradelite calendar list shows those stored)`);
        const days = year === undefined ? data.days : data.days.filter((d) => d.startsWith(`${year}-`));
        if (values.json) {
          console.log(JSON.stringify({ name, timezone: data.timezone, rules: data.rules.map((r) => ({ from: r.from, sessions: formatSessions(r.sessions) })), days }));
          return EXIT_OK;
        }
        console.log(`${name} (${data.timezone})`);
        for (const rule of data.rules) console.log(`  from ${rule.from}: ${formatSessions(rule.sessions)}`);
        console.log(`  ${formatNumber(days.length)} trading days${year === undefined ? "" : ` in ${year}`}${days.length > 0 ? `, ${days[0]} .. ${days.at(-1)}` : ""}`);
        if (year !== undefined) console.log(days.map((d) => `  ${d}${data.exceptions?.[d] ? ` ${formatSessions(data.exceptions[d])}` : ""}`).join("\n"));
        return EXIT_OK;
      }
      case "import": {
        const file = only(rest, "calendar import FILE");
        const name = text(values, "calendar");
        if (name === undefined) throw new UsageError("calendar import needs --calendar NAME");
        const days = parseCalendarFile(readFileSync(file, "utf8"));
        const existing = await store.calendars.get(name);
        if (existing) {
          if (year === undefined) throw new UsageError(`${name} exists: pass --year YYYY to replace one of its years`);
          if (text(values, "timezone") !== undefined || text(values, "sessions") !== undefined) {
            throw new UsageError("--timezone and --sessions create a calendar; a stored one keeps its own");
          }
          const summary = await store.calendars.replaceYear(name, year, days);
          if (values.json) console.log(JSON.stringify(summary));
          else console.log(`${name}: ${year} replaced by ${days.length} trading days from ${file}; ${formatNumber(summary.days)} in all, ${summary.first} .. ${summary.last}`);
          return EXIT_OK;
        }
        const timezone = text(values, "timezone");
        const sessions = text(values, "sessions");
        if (timezone === undefined || sessions === undefined) {
          throw new UsageError(`no calendar named ${name}: to create one, pass --timezone and --sessions`);
        }
        const exceptions = Object.fromEntries(days.filter((d) => d.sessions).map((d) => [d.date, d.sessions!]));
        const data: CalendarData = { name, timezone, rules: [{ from: days[0]?.date ?? "1970-01-01", sessions: parseSessions(sessions) }], days: days.map((d) => d.date).sort(), exceptions };
        const summary = await store.calendars.put(data);
        if (values.json) console.log(JSON.stringify(summary));
        else console.log(`${name}: created with ${formatNumber(summary.days)} trading days (${summary.first} .. ${summary.last}) in ${timezone}`);
        return EXIT_OK;
      }
      case "assign": {
        const [symbol, name, ...extra] = rest;
        if (symbol === undefined || extra.length > 0 || (name === undefined) === !values.none) {
          throw new UsageError("calendar assign SYMBOL NAME, or calendar assign SYMBOL --none");
        }
        await store.calendars.assign(symbol, name ?? null);
        const follows = await store.calendars.of(symbol);
        if (values.json) console.log(JSON.stringify({ symbol, calendar: follows }));
        else console.log(`${symbol} follows ${follows ?? "no calendar"}`);
        return EXIT_OK;
      }
      default:
        throw new UsageError(action === undefined ? `calendar needs ${ACTIONS.join(", ")}` : `unknown calendar action ${JSON.stringify(action.slice(0, 40))}`);
    }
  } finally {
    await store.close();
  }
}

function only(rest: string[], usage: string): string {
  if (rest.length !== 1) throw new UsageError(`usage: tradelite ${usage}`);
  return rest[0]!;
}

function readYear(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{4}$/.test(value)) throw new UsageError(`--year is a four-digit year, got ${JSON.stringify(value.slice(0, 20))}`);
  return Number(value);
}

export const calendarCommand: Command = { name: "calendar", summary: "exchange calendars: list, show, import a year or a user calendar, assign", usage: USAGE, options: OPTIONS, actions: ACTIONS, run };
