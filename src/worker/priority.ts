/**
 * The store's workers run below the thread that opened them. A worker store exists so that
 * storage never holds its caller's event loop; on a machine with fewer cores than busy threads
 * (two readers resampling a million rows each, beside a server thread, on two cores) the
 * operating system would still share the cores evenly, and the caller's thread, with its
 * liveness probe and its early refusals, would wait behind the reads for whole scheduler slices
 * (bench:abandon: /health p99 13-15 ms at the same nice, 6-13 ms, median 8, 10 below).
 * So each worker raises its own thread's nice value by `niceness` when it starts (Linux: nice is
 * per thread, set through the thread's id). Reads still get every core nothing else wants; they
 * yield only to the caller's thread and to the machine's other work.
 *
 * Where threads have no nice value of their own (no /proc/thread-self: macOS, Windows) this does
 * nothing and says so: the worker reports its thread as null (WorkerConnection.thread). A
 * worker's own helper threads (its garbage collector's), started after, inherit the value.
 */
import { readlinkSync } from "node:fs";
import { getPriority, setPriority } from "node:os";

/** How far below the opening thread the workers run by default. */
export const DEFAULT_WORKER_NICENESS = 10;
/** The highest nice value there is: the most a worker may be lowered by. */
export const MAX_WORKER_NICENESS = 19;

/** A worker's thread as the operating system knows it: its id and the nice value it runs at. */
export interface WorkerThread {
  id: number;
  nice: number;
}

/**
 * Raises the calling thread's nice value by `by` (capped at 19). Returns the thread's id and the
 * nice value it runs at now, or null where a thread's priority cannot be set on its own.
 */
export function lowerThisThread(by: number): WorkerThread | null {
  let tid: number;
  try {
    tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
  } catch {
    return null;
  }
  if (!Number.isSafeInteger(tid) || tid <= 0) return null;
  const now = getPriority(tid);
  // Raising one's own nice value needs no privilege; lowering it back would.
  if (by > 0) setPriority(tid, Math.min(MAX_WORKER_NICENESS, now + by));
  return { id: tid, nice: getPriority(tid) };
}
