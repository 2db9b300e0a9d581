/**
 * startServer: the API on Bun.serve. Bun's own body limit is set above ours (the API answers a
 * too-large body with its own 413, counted as the body streams), as a backstop only.
 */
import type { Server } from "bun";
import type { Store } from "../domain/store.ts";
import { createApp, type ApiOptions } from "./app.ts";
import { DEFAULT_MAX_BODY_BYTES } from "../config.ts";

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
  /** Stops accepting, lets requests in flight finish (closeActiveConnections: false). */
  stop(): Promise<void>;
}

export function startServer(store: Store, options: ServerOptions = {}): RunningServer {
  const { hostname = "127.0.0.1", port = 8787, ...api } = options;
  const app = createApp(store, api);
  const maxBody = api.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const server = Bun.serve({
    hostname,
    port,
    fetch: app.fetch,
    maxRequestBodySize: maxBody * 2,
    // Streamed exports can idle while the client reads slowly; Bun's default (10 s) would cut them.
    idleTimeout: 120,
  });
  const shownHost = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    server,
    url: `http://${shownHost}:${server.port}`,
    stop: () => server.stop(false),
  };
}
