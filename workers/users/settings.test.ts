// The caller's own settings and the names people see: PATCH /v1/users/me, and what a display
// name may hold (no bidi overrides, no C1 controls, not only invisible characters).
import { describe, expect, it } from "vitest";
import { call, db, register, uniqueHandle } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";

const edge = useEdge();

const BAD_NAMES: Array<[string, string]> = [
  ["a right-to-left override", "Bob\u202Etxt.exe"],
  ["an isolate", "\u2067Bob"],
  ["a C1 control", "Bob\u0085"],
  ["only zero-width characters", "\u200b\u200c\u200d"],
  ["only a Hangul filler", "\u3164"],
];

describe("display names", () => {
  it("refuses a registration whose display name hides or reorders text, and stores nothing", async () => {
    for (const [what, display_name] of BAD_NAMES) {
      const handle = uniqueHandle("dn");
      const res = await call(edge, "POST", "/v1/auth/register", {
        body: { handle, password: "correct horse battery", display_name },
      });
      expect(res.status, what).toBe(400);
      expect(res.body.error.code, what).toBe("invalid");
      const { rows } = await db().query(`select 1 from users where handle = $1`, [handle]);
      expect(rows, what).toHaveLength(0);
    }
    expect((await register(edge, { display_name: "Zoë 👩‍💻 محمد" })).display_name).toBe("Zoë 👩‍💻 محمد");
  });

  it("refuses the same names on PATCH /v1/users/me, keeping the old one, and takes a good one", async () => {
    const me = await register(edge, { display_name: "Before" });
    for (const [what, display_name] of BAD_NAMES) {
      const res = await call(edge, "PATCH", "/v1/users/me", { token: me.token, body: { display_name } });
      expect(res.status, what).toBe(400);
      expect(res.body.error.code, what).toBe("invalid");
    }
    expect((await call(edge, "GET", "/v1/me", { token: me.token })).body.display_name).toBe("Before");
    const ok = await call(edge, "PATCH", "/v1/users/me", { token: me.token, body: { display_name: "After" } });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ id: me.id, handle: me.handle, display_name: "After", group_adds: "anyone" });
  });
});

describe("PATCH /v1/users/me", () => {
  it("sets group_adds and refuses anything else", async () => {
    const me = await register(edge);
    for (const body of [{}, { group_adds: "nobody" }, { group_adds: "friends", extra: 1 }, { handle: "x" }]) {
      const res = await call(edge, "PATCH", "/v1/users/me", { token: me.token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect((await call(edge, "GET", "/v1/me", { token: me.token })).body.group_adds).toBe("anyone");
    const res = await call(edge, "PATCH", "/v1/users/me", { token: me.token, body: { group_adds: "friends" } });
    expect(res.body.group_adds).toBe("friends");
    expect((await call(edge, "PATCH", "/v1/users/me", { body: { group_adds: "anyone" } })).status).toBe(401);
  });
});
