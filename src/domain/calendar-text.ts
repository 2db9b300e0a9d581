/**
 * A calendar with its sessions written as text ("09:30-11:30 13:00-15:00"), the form calendar
 * files use and the HTTP API carries. Read and written here once, for the API and its client.
 */
import { formatSessions, parseSessions, type CalendarData, type Session } from "./calendar.ts";
import { ValidationError } from "./errors.ts";

export interface CalendarText {
  name: string;
  timezone: string;
  rules: { from: string; sessions: string }[];
  days: string[];
  exceptions: Record<string, string>;
}

export function calendarAsText(data: CalendarData): CalendarText {
  return {
    name: data.name,
    timezone: data.timezone,
    rules: data.rules.map((rule) => ({ from: rule.from, sessions: formatSessions(rule.sessions) })),
    days: [...data.days],
    exceptions: Object.fromEntries(Object.entries(data.exceptions ?? {}).map(([date, sessions]) => [date, formatSessions(sessions)])),
  };
}

/** The calendar a CalendarText describes; a bad sessions text names its field. */
export function calendarOfText(text: Omit<CalendarText, "exceptions"> & { exceptions?: Record<string, string> }): CalendarData {
  return {
    name: text.name,
    timezone: text.timezone,
    days: text.days,
    rules: text.rules.map((rule, i) => ({ from: rule.from, sessions: sessionsAt(rule.sessions, `rules.${i}.sessions`) })),
    exceptions: Object.fromEntries(Object.entries(text.exceptions ?? {}).map(([date, sessions]) => [date, sessionsAt(sessions, `exceptions.${date}`)])),
  };
}

/** Sessions text read with the place it came from, so a bad one names its field. */
export function sessionsAt(text: string, field: string): Session[] {
  try {
    return parseSessions(text);
  } catch (error) {
    if (error instanceof ValidationError) throw new ValidationError([{ field, message: error.message }]);
    throw error;
  }
}
