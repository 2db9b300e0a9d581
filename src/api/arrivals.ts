/**
 * Arrivals in slices. Bun reads every request that has arrived and calls fetch for each, one
 * after another, before it polls its sockets again. When 2,500 clients connect at once
 * (bench:abandon), the app's work for each (Host check, token, routing, zod, the store call:
 * ~0.1 ms) adds up to blocks of 100-170 ms in which nothing else is read: /health, answered at
 * the front door in µs, waits behind them. So the app runs at most `sliceMs` of arrivals in one
 * turn of the loop; past it, the rest of the burst waits, in order, for the next turns, `sliceMs`
 * at a time, and the loop polls its sockets between them.
 *
 * Only a burst waits: a turn must bring more than `burst` arrivals before any of them does.
 * Waiting is not free in this runtime: an answer completed on a later turn is written with one
 * send() per header fragment (oven-sh/bun#41341). Measured under steady load (wrk, 32
 * keep-alive connections, in-thread reads of ~0.2 ms each: up to 32 arrivals and 6 ms a turn),
 * slicing by time alone put 170 µs of CPU on every request and cut throughput by 40%. A
 * connection has one request in flight, so a turn brings at most as many arrivals as there are
 * busy connections: 32 lets that load run as before, and is a small fraction of a storm. One
 * that waits is still answered as before: on its turn it goes through `waited` (by default
 * `handle`; the front door's refuses it early when the queues filled meanwhile, or runs the
 * app, whose read sees an aborted signal at once when its client left).
 */
import type { Server } from "bun";

/** The app's synchronous work allowed in one turn of the loop before arrivals wait. */
export const ARRIVAL_SLICE_MS = 2;
/** Arrivals in one turn that always run at once, whatever their time. */
export const ARRIVAL_BURST = 32;

type Handle = (request: Request, server: Server<unknown>) => Response | Promise<Response>;

interface Waiting {
  request: Request;
  server: Server<unknown>;
  resolve: (answer: Response | Promise<Response>) => void;
}

export function slicedArrivals(
  handle: Handle,
  { sliceMs = ARRIVAL_SLICE_MS, burst = ARRIVAL_BURST, waited = handle }: { sliceMs?: number; burst?: number; waited?: Handle } = {},
): Handle {
  if (!(sliceMs > 0)) throw new TypeError(`sliceMs must be a positive number of ms, got ${sliceMs}`);
  if (!(Number.isSafeInteger(burst) && burst >= 0)) throw new TypeError(`burst must be a whole number, got ${burst}`);
  const waiting: (Waiting | undefined)[] = [];
  let head = 0;
  // When this turn's slice began (-1 when no request has run this turn yet), and its arrivals.
  let sliceStarted = -1;
  let arrivals = 0;
  const endSlice = () => {
    sliceStarted = -1;
    arrivals = 0;
  };

  function drain(): void {
    const started = performance.now();
    while (head < waiting.length && performance.now() - started < sliceMs) {
      const next = waiting[head]!;
      waiting[head++] = undefined;
      try {
        next.resolve(waited(next.request, next.server));
      } catch (error) {
        next.resolve(Promise.reject(error));
      }
    }
    if (head < waiting.length) {
      setImmediate(drain);
    } else {
      waiting.length = 0;
      head = 0;
    }
  }

  return (request, server) => {
    if (head === waiting.length) {
      if (sliceStarted < 0) {
        sliceStarted = performance.now();
        setImmediate(endSlice);
      }
      if (++arrivals <= burst || performance.now() - sliceStarted < sliceMs) return handle(request, server);
      setImmediate(drain);
    }
    // Behind the slice, or behind others already waiting: in arrival order.
    return new Promise<Response>((resolve) => waiting.push({ request, server, resolve }));
  };
}
