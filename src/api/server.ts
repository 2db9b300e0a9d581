/**
 * startServer: the API on Bun.serve. Bun's own body limit is lifted: Bun would answer a body over
 * it with an empty 413 of its own before the app runs, and the app already refuses bodies over
 * its limit (at once from Content-Length, or counted as a chunked body streams) with the API's
 * error shape, without reading them.
 */
import type { Server } from "bun";
import type { Store } from "../domain/store.ts";
import { createApi, type ApiOptions } from "./app.ts";
import { slicedArrivals } from "./arrivals.ts";
import { liveWebSocket } from "./live.ts";

export interface ServerOptions extends ApiOptions {
  /** Default 127.0.0.1. */
  hostname?: string;
  /** Default 8787; 0 picks a free port. */
  port?: number;
}

export interface RunningServer {
  server: Server<unknown>;
  /** http://host:port */
  url: string;
  /**
   * Stops accepting and lets requests in flight finish (closeActiveConnections: false); with
   * `force`, closes every open connection at once (a stalled client cannot hold it up).
   */
  stop(force?: boolean): Promise<void>;
}

export function startServer(store: Store, options: ServerOptions = {}): RunningServer {
  const { hostname = "127.0.0.1", port = 8787, ...apiOptions } = options;
  // The address the server listens on is a name its clients use: allowed in the Host header.
  const bare = hostname.replace(/^\[(.*)\]$/, "$1");
  const wildcard = bare === "0.0.0.0" || bare === "::";
  const listed = bare.includes(":") ? `[${bare}]` : bare;
  const api = createApi(store, { ...apiOptions, allowedHosts: [...(apiOptions.allowedHosts ?? []), ...(wildcard ? [] : [listed])] });
  const server = Bun.serve({
    hostname: bare,
    port,
    fetch: frontDoor(api),
    // /v1/stream/ws's sockets (src/api/live.ts).
    websocket: liveWebSocket,
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    // Streamed exports can idle while the client reads slowly; Bun's default (10 s) would cut them.
    idleTimeout: 120,
  });
  return {
    server,
    url: `http://${listed}:${server.port}`,
    stop: (force = false) => {
      api.admission?.flush();
      return server.stop(force);
    },
  };
}

/**
 * The fetch Bun.serve runs: the front door first (admission.ts), where /health, and a read that
 * every reader's full queue would refuse (a prebuilt 503), are answered before the app parses,
 * checks or routes anything; everything else goes to the app, at most a slice of a loop turn of
 * it at a time (arrivals.ts), so a burst of arrivals never keeps /health waiting.
 */
export function frontDoor({ app, admission, liveness }: ReturnType<typeof createApi>): (request: Request, server: Server<unknown>) => Response | Promise<Response> {
  // The app in slices of a turn (arrivals.ts); a request that waited for its turn is asked the
  // early refusal again then (only then: one let in at once was just asked), when the queues it
  // would join may have filled.
  const admitted = slicedArrivals(app.fetch, admission ? { waited: (request, server) => admission.refuse(request) ?? app.fetch(request, server) } : {});
  return (request, server) => liveness(request) ?? admission?.refuse(request) ?? admitted(request, server);
}
