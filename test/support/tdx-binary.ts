/**
 * TDX binary bar files for tests, written and read without the code under test: a writer from
 * the documented record layouts (see src/import/tdx-binary.ts for the source), and Python 3's
 * `struct` module as a second, independent reader of the real files.
 */
import { PROJECT_ROOT } from "./api-server.ts";

/** The real TDX binaries kept in the repository (test/fixtures/tdx/README.md says where from). */
export const REAL_TDX_BINARIES = {
  day: `${PROJECT_ROOT}/test/fixtures/calendar/sz000001.day`,
  lc1: `${PROJECT_ROOT}/test/fixtures/tdx/sh688001.lc1`,
  lc5: `${PROJECT_ROOT}/test/fixtures/tdx/sh688001.lc5`,
} as const;

/** One daily record as the file holds it: prices in whole price units. */
export interface DayRecord {
  date: number;
  open: number;
  high: number;
  low: number;
  close: number;
  amount: number;
  volume: number;
}

/** One minute record as the file holds it: float32 prices, the closing minute since midnight. */
export type MinuteRecord = Omit<DayRecord, "date"> & { year: number; month: number; day: number; minutes: number };

/** `.day` bytes: u32 date YYYYMMDD, u32 OHLC, f32 amount, u32 volume, u32 reserved. */
export function dayFile(records: readonly DayRecord[]): Uint8Array {
  const view = new DataView(new ArrayBuffer(records.length * 32));
  records.forEach((r, i) => {
    const at = i * 32;
    view.setUint32(at, r.date, true);
    [r.open, r.high, r.low, r.close].forEach((price, k) => view.setUint32(at + 4 + 4 * k, price, true));
    view.setFloat32(at + 20, r.amount, true);
    view.setUint32(at + 24, r.volume, true);
    view.setUint32(at + 28, 0, true);
  });
  return new Uint8Array(view.buffer);
}

/** `.lc1` / `.lc5` bytes: u16 (year-2004)*2048 + month*100 + day, u16 minutes, f32 OHLC and amount, u32 volume, u32 reserved. */
export function minuteFile(records: readonly MinuteRecord[]): Uint8Array {
  const view = new DataView(new ArrayBuffer(records.length * 32));
  records.forEach((r, i) => {
    const at = i * 32;
    view.setUint16(at, (r.year - 2004) * 2048 + r.month * 100 + r.day, true);
    view.setUint16(at + 2, r.minutes, true);
    [r.open, r.high, r.low, r.close, r.amount].forEach((value, k) => view.setFloat32(at + 4 + 4 * k, value, true));
    view.setUint32(at + 24, r.volume, true);
    view.setUint32(at + 28, 0, true);
  });
  return new Uint8Array(view.buffer);
}

/** A record as Python's struct reads it: the date (and minute) as written, then the raw fields. */
export interface PythonRecord {
  date: string;
  minute: string | null;
  values: number[];
}

/**
 * Every record of a real TDX file, read by Python 3 (`<IIIIIfII` for .day, `<HHfffffII` for
 * .lc1/.lc5, the formats pytdx reads with): float32 fields come back as the doubles they equal.
 */
export async function readWithPython(path: string): Promise<PythonRecord[]> {
  const script = `
import json, struct, sys
path = sys.argv[1]
data = open(path, "rb").read()
out = []
for at in range(0, len(data), 32):
    if path.endswith(".day"):
        r = struct.unpack_from("<IIIIIfII", data, at)
        d = str(r[0])
        out.append({"date": d[:4] + "-" + d[4:6] + "-" + d[6:], "minute": None, "values": list(r[1:7])})
    else:
        r = struct.unpack_from("<HHfffffII", data, at)
        y, rest = r[0] // 2048 + 2004, r[0] % 2048
        out.append({"date": "%04d-%02d-%02d" % (y, rest // 100, rest % 100), "minute": "%02d:%02d" % divmod(r[1], 60), "values": list(r[2:8])})
print(json.dumps(out))
`;
  const child = Bun.spawn(["python3", "-c", script, path], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`python3 could not read ${path}: ${stderr}`);
  return JSON.parse(stdout) as PythonRecord[];
}

/** The session minutes a bar stamped at its close may carry: 1-minute 09:31..11:30 and 13:01..15:00, 5-minute on the 5s. */
export function sessionCloses(step: 1 | 5): Set<string> {
  const closes = new Set<string>();
  for (const [from, to] of [[9 * 60 + 30, 11 * 60 + 30], [13 * 60, 15 * 60]] as const) {
    for (let minute = from + step; minute <= to; minute += step) closes.add(`${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`);
  }
  return closes;
}
