// How the Node services the rooms call (the archive sink, the push relay) listen and stop.
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { serve } from "@hono/node-server";

export interface Listening {
  server: Server;
  port: number;
  /** where this machine reaches it */
  url: string;
  /** stops accepting, lets requests in flight finish for up to `graceMs`, then cuts what is left */
  close(graceMs?: number): Promise<void>;
}

/** Serves `fetch` on host:port (0 picks a free port) once it is listening; rejects if it cannot. */
export async function listen(
  fetch: (req: Request) => Response | Promise<Response>,
  host: string,
  port: number,
): Promise<Listening> {
  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch, hostname: host, port }) as Server;
    s.once("listening", () => resolve(s));
    s.once("error", reject);
  });
  // long-lived keep-alive connections from the edge are the norm; do not let Node's default 5 s
  // idle timeout race the client's own reuse of a connection
  server.keepAliveTimeout = 65_000;
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    port: bound,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${bound}`,
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => {
          server.closeAllConnections();
          resolve();
        }, graceMs).unref();
      }),
  };
}
