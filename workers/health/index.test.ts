import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEdge, type Edge } from "../../test/support/edge.js";

let edge: Edge;
beforeAll(async () => {
  edge = await startEdge();
});
afterAll(() => edge.close());

describe("health", () => {
  it("answers /v1/healthz without touching the database", async () => {
    const res = await edge.fetch("/v1/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it("reaches PostgreSQL through the Neon driver for /v1/readyz", async () => {
    const res = await edge.fetch("/v1/readyz");
    expect(await res.json()).toEqual({ ok: true, database: "ok" });
  });

  it("answers unknown routes with the protocol's error shape", async () => {
    const res = await edge.fetch("/v1/nope");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });
});
