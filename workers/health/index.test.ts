import { describe, expect, it } from "vitest";
import { call, seedUsers } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";

const edge = useEdge();

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
    const [user] = await seedUsers(1);
    const res = await call(edge, "GET", "/v1/nope", { token: user!.token });
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: "not_found" });
    // without a token the same path is refused before routing: nothing is revealed
    expect((await call(edge, "GET", "/v1/nope")).status).toBe(401);
  });
});
