import { beforeAll, describe, expect, it } from "vitest";
import { BlockStatus, UserStatus } from "../../db/index.js";
import type { ErrorBody, PublicUser } from "../../protocol/index.js";
import type { UserSearchResponse } from "../../protocol/social.js";
import { call, db, register, seedUsers, tokenFor, uniqueHandle } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";

const edge = useEdge();
let caller: PublicUser & { token: string };
beforeAll(async () => {
  [caller] = (await seedUsers(1, "caller")) as [PublicUser & { token: string }];
});

/** Users with exactly these handles and names, so a search prefix is known to be theirs alone. */
async function insertUsers(rows: Array<{ handle: string; display_name: string; status?: number }>) {
  const { rows: out } = await db().query<PublicUser>(
    `insert into users (handle, display_name, status)
     select * from unnest($1::text[], $2::text[], $3::smallint[])
     returning id, handle, display_name`,
    [rows.map((r) => r.handle), rows.map((r) => r.display_name), rows.map((r) => r.status ?? UserStatus.active)],
  );
  return Promise.all(out.map(async (u) => ({ ...u, token: await tokenFor(u) })));
}

/** A short unique stem (handles are at most 32 characters and we append to it). */
const stem = () => uniqueHandle("s").replace(/_/g, "").slice(0, 20);

const search = (q: string, token = caller.token, extra = "") =>
  call<UserSearchResponse & Partial<ErrorBody>>(edge, "GET", `/v1/users?q=${encodeURIComponent(q)}${extra}`, { token });

describe("GET /v1/me", () => {
  it("answers the caller's profile after a real registration", async () => {
    const user = await register(edge, { display_name: "Me Myself" });
    const res = await call(edge, "GET", "/v1/me", { token: user.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: user.id, handle: user.handle, display_name: "Me Myself", group_adds: "anyone" });
  });

  it("refuses a missing, malformed, foreign or expired token", async () => {
    const [user] = await seedUsers(1);
    for (const headers of [
      {} as Record<string, string>,
      { authorization: "Bearer not-a-jwt" },
      { authorization: `Basic ${user!.token}` },
    ]) {
      const res = await call(edge, "GET", "/v1/me", { headers });
      expect(res.status).toBe(401);
      expect(res.body.error?.code).toBe("unauthorized");
    }
    const expired = await tokenFor(user!, -60);
    expect((await call(edge, "GET", "/v1/me", { token: expired })).status).toBe(401);
    // one flipped character in the signature
    const tampered = user!.token.slice(0, -2) + (user!.token.endsWith("A") ? "BB" : "AA");
    expect((await call(edge, "GET", "/v1/me", { token: tampered })).status).toBe(401);
  });

  it("answers 404 once the account is suspended or deleted, although its token is still valid", async () => {
    const [user] = await seedUsers(1);
    await db().query("update users set status = $2 where id = $1", [user!.id, UserStatus.suspended]);
    const res = await call(edge, "GET", "/v1/me", { token: user!.token });
    expect(res.status).toBe(404);
    expect(res.body.error?.code).toBe("not_found");
    // a token for an id that never existed
    const ghost = await tokenFor({ id: crypto.randomUUID(), handle: "ghost" });
    expect((await call(edge, "GET", "/v1/me", { token: ghost })).status).toBe(404);
  });

  it("returns a SQL-looking display name verbatim", async () => {
    const name = "'; drop table users; --";
    const user = await register(edge, { display_name: name });
    const res = await call(edge, "GET", "/v1/me", { token: user.token });
    expect(res.body.display_name).toBe(name);
    const { rows } = await db().query("select to_regclass('public.users') as t");
    expect(rows[0].t).toBe("users");
  });
});

describe("GET /v1/users", () => {
  it("finds by handle prefix and by display-name prefix, case-insensitively, exact handle first", async () => {
    const s = stem();
    const [exact, longer, byName, other] = await insertUsers([
      { handle: `zq${s}`, display_name: "Exact" },
      { handle: `zq${s}_b`, display_name: "Longer" },
      // sorts before the exact handle, but matches through its display name only
      { handle: `a${s}`, display_name: `ZQ${s.toUpperCase()} Person` },
      { handle: `b${s}`, display_name: "Unrelated" },
    ]);
    const res = await search(`ZQ${s}`);
    expect(res.status).toBe(200);
    expect(res.body.users).toEqual(
      [exact!, byName!, longer!].map(({ id, handle, display_name }) => ({ id, handle, display_name })),
    );
    expect(res.body.users.map((u) => u.id)).not.toContain(other!.id);
    // without an exact match the order is by handle
    const partial = await search(`zq${s.slice(0, -1)}`);
    expect(partial.body.users.map((u) => u.handle)).toEqual([byName!.handle, exact!.handle, longer!.handle]);
  });

  it("matches handles only as a prefix, never in the middle", async () => {
    const s = stem();
    await insertUsers([{ handle: `mid${s}`, display_name: "Middle" }]);
    expect((await search(s)).body.users).toEqual([]);
    expect((await search(`mid${s}`)).body.users).toHaveLength(1);
  });

  it("treats % _ and \\ in the query literally", async () => {
    const s = stem();
    const [percent, letter, backslash] = await insertUsers([
      { handle: `p${s}`, display_name: `W${s}%x` },
      { handle: `l${s}`, display_name: `W${s}ax` },
      { handle: `k${s}`, display_name: `W${s}\\y` },
    ]);
    expect((await search(`W${s}%`)).body.users.map((u) => u.id)).toEqual([percent!.id]);
    // an unescaped `_` would match the "a" of the second user
    expect((await search(`W${s}_`)).body.users).toEqual([]);
    expect((await search(`W${s}\\`)).body.users.map((u) => u.id)).toEqual([backslash!.id]);
    // a bare wildcard finds nobody (no display name or handle starts with a literal %)
    const all = await search("%");
    expect(all.status).toBe(200);
    expect(all.body.users.map((u) => u.id)).not.toContain(letter!.id);
  });

  it("stores and searches SQL-looking input verbatim", async () => {
    const name = `'; drop table users; -- ${stem()}`;
    const user = await register(edge, { display_name: name });
    const res = await search(name.toUpperCase());
    expect(res.status).toBe(200);
    expect(res.body.users).toEqual([{ id: user.id, handle: user.handle, display_name: name }]);
    const { rows } = await db().query("select count(*)::int as n from users");
    expect(rows[0].n).toBeGreaterThan(0);
  });

  it("leaves out inactive users and users who blocked the caller", async () => {
    const s = stem();
    const [visible, suspended, deleted, blocker, blockedByCaller] = await insertUsers([
      { handle: `v${s}a`, display_name: `V${s}` },
      { handle: `v${s}b`, display_name: `V${s}`, status: UserStatus.suspended },
      { handle: `v${s}c`, display_name: `V${s}`, status: UserStatus.deleted },
      { handle: `v${s}d`, display_name: `V${s}` },
      { handle: `v${s}e`, display_name: `V${s}` },
    ]);
    await db().query("insert into user_block (blocker_id, blocked_id, status) values ($1, $2, $3), ($4, $1, $3)", [
      blocker!.id,
      caller.id,
      BlockStatus.active,
      caller.id,
    ]);
    const ids = (await search(`v${s}`)).body.users.map((u) => u.id);
    // the caller's own block does not hide the other side from the caller
    expect(ids).toEqual([visible!.id, blockedByCaller!.id]);
    expect(ids).not.toContain(suspended!.id);
    expect(ids).not.toContain(deleted!.id);
    // someone else still finds the blocker
    const [other] = await seedUsers(1);
    expect((await search(`v${s}`, other!.token)).body.users.map((u) => u.id)).toContain(blocker!.id);
    // a lifted block shows them again
    await db().query("update user_block set status = $3 where blocker_id = $1 and blocked_id = $2", [
      blocker!.id,
      caller.id,
      BlockStatus.lifted,
    ]);
    expect((await search(`v${s}`)).body.users.map((u) => u.id)).toContain(blocker!.id);
  });

  it("answers 20 by default, honours limit, and caps it at 50", async () => {
    const s = stem();
    await insertUsers(
      Array.from({ length: 55 }, (_, i) => ({ handle: `n${s}${String(i).padStart(2, "0")}`, display_name: "Many" })),
    );
    const def = await search(`n${s}`);
    expect(def.body.users).toHaveLength(20);
    expect(def.body.users[0]!.handle).toBe(`n${s}00`);
    expect(def.body.users[19]!.handle).toBe(`n${s}19`);
    expect((await search(`n${s}`, caller.token, "&limit=5")).body.users).toHaveLength(5);
    expect((await search(`n${s}`, caller.token, "&limit=50")).body.users).toHaveLength(50);
    for (const bad of ["&limit=51", "&limit=0", "&limit=-1", "&limit=abc", "&limit=2.5"]) {
      const res = await search(`n${s}`, caller.token, bad);
      expect(res.status, bad).toBe(400);
      expect(res.body.error?.code).toBe("invalid");
    }
  });

  it("refuses a missing, blank, oversized or unknown query parameter, and no token", async () => {
    for (const path of [
      "/v1/users",
      "/v1/users?q=",
      "/v1/users?q=%20%20",
      `/v1/users?q=${"a".repeat(65)}`,
      "/v1/users?q=abc&sort=handle",
    ]) {
      const res = await call(edge, "GET", path, { token: caller.token });
      expect(res.status, path).toBe(400);
      expect(res.body.error?.code).toBe("invalid");
    }
    expect((await call(edge, "GET", "/v1/users?q=abc")).status).toBe(401);
  });
});
