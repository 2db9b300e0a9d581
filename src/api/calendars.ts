/**
 * /v1/calendars: the exchange calendars the store holds, a year replaced when its holidays are
 * announced (a JSON list of days or the calendar file as text/csv), and which calendar a symbol
 * follows. Sessions travel as text, "09:30-11:30 13:00-15:00", as they do in calendar files.
 */
import { z } from "@hono/zod-openapi";
import { parseCalendarFile, type CalendarDay } from "../domain/calendar.ts";
import { calendarAsText, calendarOfText, sessionsAt } from "../domain/calendar-text.ts";
import type { Api } from "./context.ts";
import { ApiError, errorResponses } from "./errors.ts";
import { readUtf8Text } from "./body.ts";
import { NameParam, route, SymbolParam } from "./schemas.ts";

const Summary = z.object({
  name: z.string(),
  timezone: z.string(),
  first: z.string().nullable(),
  last: z.string().nullable(),
  days: z.number().int(),
});

const SessionsText = z.string().max(200).openapi({ example: "09:30-11:30 13:00-15:00" });

const CalendarBody = z.strictObject({
  timezone: z.string().max(64),
  rules: z.array(z.strictObject({ from: z.string().max(10), sessions: SessionsText })).min(1).max(100),
  days: z.array(z.string().max(10)).max(100_000),
  exceptions: z.record(z.string().max(10), SessionsText).optional(),
});

const YearBody = z.strictObject({
  days: z.array(z.strictObject({ date: z.string().max(10), sessions: SessionsText.optional() })).max(366),
});

const CalendarParam = NameParam("name", "XSHG");
const YearParam = CalendarParam.extend({
  year: z.string().regex(/^\d{4}$/, "expected a four-digit year").openapi({ param: { name: "year", in: "path" }, example: "2027" }),
});

export function calendarRoutes(app: Api): void {
  app.openapi(
    route({
      method: "get",
      path: "/v1/calendars",
      summary: "The calendars stored, with their first and last trading days",
      responses: { 200: { description: "the calendars", content: { "application/json": { schema: z.array(Summary) } } }, ...errorResponses() },
    }),
    async (c) => c.json(await c.var.store.calendars.list(), 200),
  );

  app.openapi(
    route({
      method: "get",
      path: "/v1/calendars/{name}",
      summary: "One calendar: zone, session rules, every trading day and the days with other hours",
      request: { params: CalendarParam },
      responses: { 200: { description: "the calendar", content: { "application/json": { schema: CalendarBody.extend({ name: z.string() }) } } }, ...errorResponses(404) },
    }),
    async (c) => {
      const { name } = c.req.valid("param") as { name: string };
      const data = await c.var.store.calendars.get(name);
      if (!data) throw new ApiError(404, `no calendar named ${name}`);
      return c.json(calendarAsText(data), 200);
    },
  );

  app.openapi(
    route({
      method: "put",
      path: "/v1/calendars/{name}",
      summary: "Create or replace a whole calendar (a user calendar, say US equities in America/New_York)",
      request: { params: CalendarParam, body: { required: true, content: { "application/json": { schema: CalendarBody } } } },
      responses: { 200: { description: "stored", content: { "application/json": { schema: Summary } } }, ...errorResponses(400, 413, 415) },
    }),
    async (c) => {
      const { name } = c.req.valid("param") as { name: string };
      const data = calendarOfText({ name, ...c.req.valid("json") });
      return c.json(await c.var.store.calendars.put(data), 200);
    },
  );

  app.openapi(
    route({
      method: "put",
      path: "/v1/calendars/{name}/years/{year}",
      summary: "Replace one year's trading days: { days: [{ date, sessions? }] }, or the calendar file as text/csv (date,sessions)",
      request: {
        params: YearParam,
        body: {
          required: false,
          content: {
            "application/json": { schema: YearBody },
            "text/csv": { schema: z.string().openapi({ example: "date,sessions\n2027-01-04,\n2027-01-05,\n" }) },
          },
        },
      },
      responses: { 200: { description: "the calendar after the change", content: { "application/json": { schema: Summary } } }, ...errorResponses(400, 413, 415) },
    }),
    async (c) => {
      const { name, year } = c.req.valid("param") as { name: string; year: string };
      const type = (c.req.header("content-type") ?? "").toLowerCase();
      let days: CalendarDay[];
      if (type.startsWith("text/csv")) days = parseCalendarFile(await readUtf8Text(c.req.raw));
      else if (/^application\/([a-z.-]+\+)?json/.test(type)) {
        days = (c.req.valid("json") as z.infer<typeof YearBody>).days.map((day, i) => (day.sessions === undefined || day.sessions === "" ? { date: day.date } : { date: day.date, sessions: sessionsAt(day.sessions, `days.${i}.sessions`) }));
      } else throw new ApiError(415, "a calendar year is application/json ({ days }) or text/csv (date,sessions)");
      return c.json(await c.var.store.calendars.replaceYear(name, Number(year), days), 200);
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/v1/symbols/{symbol}/calendar",
      summary: "The calendar a symbol follows: its own, else its instrument's, else the database's default (null: none)",
      request: { params: SymbolParam },
      responses: { 200: { description: "the calendar's name", content: { "application/json": { schema: z.object({ symbol: z.string(), calendar: z.string().nullable() }) } } }, ...errorResponses() },
    }),
    async (c) => {
      const { symbol } = c.req.valid("param");
      return c.json({ symbol, calendar: await c.var.store.calendars.of(symbol) }, 200);
    },
  );

  app.openapi(
    route({
      method: "put",
      path: "/v1/symbols/{symbol}/calendar",
      summary: "Give a symbol its own calendar ({ calendar: name }), or take it away ({ calendar: null })",
      request: { params: SymbolParam, body: { required: true, content: { "application/json": { schema: z.strictObject({ calendar: z.string().max(32).nullable() }) } } } },
      responses: { 200: { description: "the calendar the symbol now follows", content: { "application/json": { schema: z.object({ symbol: z.string(), calendar: z.string().nullable() }) } } }, ...errorResponses(400, 413, 415) },
    }),
    async (c) => {
      const { symbol } = c.req.valid("param");
      const store = c.var.store;
      await store.calendars.assign(symbol, c.req.valid("json").calendar);
      return c.json({ symbol, calendar: await store.calendars.of(symbol) }, 200);
    },
  );
}
