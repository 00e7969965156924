// A real workerd running the bundled Worker (Miniflare), one per test file, over the shared test
// database. Bindings come from wrangler.toml, plus the secrets a deployment would set.
import { Log, LogLevel, Miniflare } from "miniflare";
import { afterAll, beforeAll, inject } from "vitest";
import { closeDb } from "./api.js";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import path from "node:path";

export interface Edge {
  url: string;
  mf: Miniflare;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/** `persist`: a directory for Durable Object storage, so a second edge over it sees the same state. */
export async function startEdge(vars: Record<string, string> = {}, opts: { persist?: string } = {}): Promise<Edge> {
  const root = path.resolve(import.meta.dirname, "../..");
  const { workerOptions } = unstable_getMiniflareWorkerOptions(path.join(root, "wrangler.toml"));
  const mf = new Miniflare({
    ...(workerOptions as object),
    modules: true,
    ...(opts.persist ? { durableObjectsPersist: opts.persist } : {}),
    // EDGE_LOG=1 shows workerd's own log (console output of the Worker and the objects)
    ...(process.env.EDGE_LOG ? { log: new Log(LogLevel.DEBUG) } : {}),
    scriptPath: inject("workerScript"),
    modulesRoot: path.dirname(inject("workerScript")),
    bindings: {
      ...((workerOptions as { bindings?: Record<string, unknown> }).bindings ?? {}),
      DATABASE_URL: inject("databaseUrl"),
      NEON_WS_PROXY: inject("neonProxy"),
      JWT_PRIVATE_JWK: inject("privateJwk"),
      REFRESH_TOKEN_SECRET: "test-refresh-secret-0123456789abcdef",
      ...vars,
    },
  } as ConstructorParameters<typeof Miniflare>[0]);
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return {
    url,
    mf,
    fetch: (p, init) => fetch(url + p, init),
    close: () => mf.dispose(),
  };
}

/**
 * One edge for the whole test file: started before its tests, closed (with the test database
 * pool) after them. The returned object is usable at the top level and works once tests run.
 */
export function useEdge(vars: Record<string, string> = {}, opts: { persist?: string } = {}): Edge {
  let current: Edge | undefined;
  const edge = () => {
    if (!current) throw new Error("the edge starts in beforeAll; use it inside hooks and tests");
    return current;
  };
  beforeAll(async () => {
    current = await startEdge(vars, opts);
  });
  afterAll(async () => {
    await current?.close();
    await closeDb();
  });
  return {
    get url() {
      return edge().url;
    },
    get mf() {
      return edge().mf;
    },
    fetch: (p, init) => edge().fetch(p, init),
    close: () => edge().close(),
  };
}
