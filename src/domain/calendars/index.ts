/**
 * The exchange calendars tradelite ships, loaded when a database is created: Shanghai (XSHG)
 * and Shenzhen (XSHE) trading days from each exchange's first day to the last announced year.
 * The days are committed as text written by scripts/calendar-data.ts (see README, "Exchange
 * calendars", for the sources) and decoded here once per process; decoding takes about a
 * millisecond.
 */
import type { CalendarData } from "../calendar.ts";
import { decodeCalendar } from "./encoding.ts";
import { XSHE } from "./xshe.ts";
import { XSHG } from "./xshg.ts";

export const SHIPPED_CALENDARS = ["XSHG", "XSHE"] as const;
export type ShippedCalendarName = (typeof SHIPPED_CALENDARS)[number];

const TEXTS: Record<ShippedCalendarName, string> = { XSHG, XSHE };
const decoded = new Map<string, CalendarData>();

/** The shipped calendar of that name, or undefined for a name tradelite does not ship. */
export function shippedCalendar(name: string): CalendarData | undefined {
  if (!Object.hasOwn(TEXTS, name)) return undefined;
  let data = decoded.get(name);
  if (!data) {
    const fresh = decodeCalendar(TEXTS[name as ShippedCalendarName]);
    // Shared by every caller in the process, so nobody may change it under the others.
    Object.freeze(fresh.days);
    data = Object.freeze(fresh);
    decoded.set(name, data);
  }
  return data;
}
