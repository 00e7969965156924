// Edges for tests: the run's bundle over the shared test database, with the secrets a deployment
// would set. One per test file (useEdge), or started by a test that needs its own (a sink, a
// proxy it can take away, a restart over the same storage) with startEdge(testEdgeOptions(...)).
import { afterAll, beforeAll, inject } from "vitest";
import { RATE_LIMITS } from "../../workers/http/rate-limit.js";
import { closeDb } from "./api.js";
import { startEdge, type Edge, type EdgeOptions } from "./miniflare.js";

export { startEdge, type Edge };

// Tests register, connect and create rooms far faster than a person: the request rate limits are
// lifted unless a test sets its own (workers/http/rate-limits.test.ts tests them).
const LIFTED_RATE_LIMITS = Object.fromEntries(
  Object.values(RATE_LIMITS).flatMap((l) => [
    [`${l.vars}_RATE_PER_MINUTE`, "1000000"],
    [`${l.vars}_BURST`, "1000000"],
  ]),
);

/** `vars` win over wrangler.toml's and over the test secrets (e.g. NEON_WS_PROXY for a proxy of the test's own). */
export function testEdgeOptions(vars: Record<string, string> = {}, opts: { persist?: string } = {}): EdgeOptions {
  return {
    script: inject("workerScript"),
    ...opts,
    bindings: {
      DATABASE_URL: inject("databaseUrl"),
      NEON_WS_PROXY: inject("neonProxy"),
      JWT_PRIVATE_JWK: inject("privateJwk"),
      REFRESH_TOKEN_SECRET: "test-refresh-secret-0123456789abcdef",
      ...LIFTED_RATE_LIMITS,
      ...vars,
    },
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
    current = await startEdge(testEdgeOptions(vars, opts));
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
