import { SignJWT, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { call, db, register, tokenFor, uniqueHandle } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";

const edge = useEdge();

const login = (handle: string, password: string, headers: Record<string, string> = {}) =>
  call(edge, "POST", "/v1/auth/login", { body: { handle, password }, headers });
const refresh = (refresh_token: string) => call(edge, "POST", "/v1/auth/refresh", { body: { refresh_token } });

describe("register", () => {
  it("creates the user with a hashed password and answers tokens that work", async () => {
    const handle = uniqueHandle("Reg");
    const res = await call(edge, "POST", "/v1/auth/register", {
      body: { handle, password: "correct horse battery", display_name: "Régine 🐱" },
    });
    expect(res.status).toBe(201);
    expect(res.body.user).toEqual({ id: expect.any(String), handle: handle.toLowerCase(), display_name: "Régine 🐱" });
    expect(res.body.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const { rows } = await db().query("select password_hash from auth_accounts where user_id = $1", [res.body.user.id]);
    expect(rows[0].password_hash).toMatch(/^scrypt\$14\$8\$1\$/);
    expect(rows[0].password_hash).not.toContain("correct horse");
    const session = await call(edge, "GET", "/v1/auth/session", { token: res.body.access_token });
    expect(session.body).toMatchObject({ user_id: res.body.user.id, handle: handle.toLowerCase() });
  });

  it("refuses a taken handle, whatever its case", async () => {
    const user = await register(edge);
    const res = await call(edge, "POST", "/v1/auth/register", {
      body: { handle: user.handle.toUpperCase(), password: "another password", display_name: "X" },
    });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("conflict");
    const { rows } = await db().query("select count(*)::int as n from users where handle = $1", [user.handle]);
    expect(rows[0].n).toBe(1);
  });

  it.each([
    ["a handle with spaces", { handle: "bad handle", password: "long enough pw", display_name: "x" }],
    ["a short password", { handle: "okhandle", password: "short", display_name: "x" }],
    ["a missing display name", { handle: "okhandle", password: "long enough pw" }],
    ["an unknown field", { handle: "okhandle", password: "long enough pw", display_name: "x", admin: true }],
    ["a number for the handle", { handle: 12345, password: "long enough pw", display_name: "x" }],
    ["a control character in the name", { handle: "okhandle", password: "long enough pw", display_name: "a\u0007b" }],
    ["a 65-character display name", { handle: "okhandle", password: "long enough pw", display_name: "x".repeat(65) }],
  ])("refuses %s with 400 invalid and stores nothing", async (_, body) => {
    const res = await call(edge, "POST", "/v1/auth/register", { body });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid");
    expect(res.body.error.message.length).toBeGreaterThan(5);
    const { rows } = await db().query("select count(*)::int as n from users where handle = 'okhandle'");
    expect(rows[0].n).toBe(0);
  });

  it("refuses malformed JSON, a non-JSON content type and a body over 64 KiB", async () => {
    const bad = await call(edge, "POST", "/v1/auth/register", { rawBody: '{"handle": "x",' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/not valid JSON/);
    const form = await call(edge, "POST", "/v1/auth/register", {
      rawBody: "handle=x",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(form.status).toBe(400);
    const huge = await call(edge, "POST", "/v1/auth/register", {
      body: { handle: "hugeone", password: "x".repeat(70_000), display_name: "x" },
    });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe("too_large");
  });

  it("stores SQL-looking input verbatim", async () => {
    const name = "Robert'); DROP TABLE users;--";
    const user = await register(edge, { display_name: name });
    expect(user.display_name).toBe(name);
    const { rows } = await db().query("select display_name from users where id = $1", [user.id]);
    expect(rows[0].display_name).toBe(name);
  });
});

describe("login", () => {
  it("answers tokens and records the login in history and the auth log", async () => {
    const user = await register(edge);
    const res = await login(user.handle.toUpperCase(), user.password, {
      "user-agent": "Mozilla/5.0 (iPhone)",
      "cf-connecting-ip": "203.0.113.7",
    });
    expect(res.status).toBe(200);
    expect(res.body.user.id).toBe(user.id);
    const history = await db().query(
      "select platform, ip from user_login_history where user_id = $1 order by at desc limit 1",
      [user.id],
    );
    expect(history.rows[0]).toEqual({ platform: 1, ip: "203.0.113.7" });
    const logs = await db().query("select success from auth_logs where user_id = $1 and event = 1", [user.id]);
    expect(logs.rows).toEqual([{ success: true }]);
  });

  it("gives the same answer for a wrong password and an unknown handle", async () => {
    const user = await register(edge);
    const wrong = await login(user.handle, "not the password");
    const unknown = await login(uniqueHandle("ghost"), "whatever pw");
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
  });

  it("throttles a handle after 5 failures, even for the right password", async () => {
    const user = await register(edge);
    for (let i = 0; i < 5; i++) expect((await login(user.handle, `wrong ${i}`)).status).toBe(401);
    const res = await login(user.handle, user.password);
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe("rate_limited");
    expect(res.body.error.retry_after_ms).toBeGreaterThan(60_000);
    expect(res.headers.get("retry-after")).toBeTruthy();
    const { rows } = await db().query(
      "select count(*)::int as n from auth_logs where handle = $1 and success = false",
      [user.handle],
    );
    expect(rows[0].n).toBe(5);
  });

  it("throttles an address after 30 failures across handles", async () => {
    const ip = `198.51.100.${Math.floor(Math.random() * 250)}`;
    await db().query(
      "insert into auth_logs (handle, event, success, ip) select 'h' || g, 1, false, $1 from generate_series(1, 30) g",
      [ip],
    );
    const user = await register(edge);
    expect((await login(user.handle, user.password, { "cf-connecting-ip": ip })).status).toBe(429);
    expect((await login(user.handle, user.password, { "cf-connecting-ip": "192.0.2.1" })).status).toBe(200);
  });

  it("refuses suspended accounts (403) and treats deleted ones as unknown (401)", async () => {
    const suspended = await register(edge);
    await db().query("update users set status = 2 where id = $1", [suspended.id]);
    const res = await login(suspended.handle, suspended.password);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("forbidden");
    const deleted = await register(edge);
    await db().query("update users set status = 3 where id = $1", [deleted.id]);
    expect((await login(deleted.handle, deleted.password)).status).toBe(401);
  });
});

describe("refresh", () => {
  it("rotates: every refresh answers a new token that refreshes in turn", async () => {
    const user = await register(edge);
    const first = await refresh(user.refresh_token);
    expect(first.status).toBe(200);
    expect(first.body.refresh_token).not.toBe(user.refresh_token);
    const second = await refresh(first.body.refresh_token);
    expect(second.status).toBe(200);
    expect((await call(edge, "GET", "/v1/auth/session", { token: second.body.access_token })).status).toBe(200);
  });

  it("gives the same successor to a token presented twice within 10 s (two tabs)", async () => {
    const user = await register(edge);
    const [a, b] = await Promise.all([refresh(user.refresh_token), refresh(user.refresh_token)]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.body.refresh_token).toBe(b.body.refresh_token);
    const again = await refresh(user.refresh_token);
    expect(again.body.refresh_token).toBe(a.body.refresh_token);
    // the successor still works normally
    expect((await refresh(a.body.refresh_token)).status).toBe(200);
  });

  it("revokes the whole family when a rotated token is reused after the grace period", async () => {
    const user = await register(edge);
    const next = await refresh(user.refresh_token);
    await db().query(
      "update refresh_tokens set rotated_at = now() - interval '11 seconds' where rotated_at is not null and user_id = $1",
      [user.id],
    );
    const reuse = await refresh(user.refresh_token);
    expect(reuse.status).toBe(401);
    expect(reuse.body.error.code).toBe("unauthorized");
    // the thief's reuse also kills the legitimate successor
    expect((await refresh(next.body.refresh_token)).status).toBe(401);
    const { rows } = await db().query(
      "select count(*)::int as n from refresh_tokens where user_id = $1 and revoked_at is null",
      [user.id],
    );
    expect(rows[0].n).toBe(0);
  });

  it("refuses unknown, malformed and expired tokens, and suspended users", async () => {
    expect((await refresh("A".repeat(43))).status).toBe(401);
    expect((await refresh("not a token")).status).toBe(401);
    expect((await call(edge, "POST", "/v1/auth/refresh", { body: { refresh_token: 42 } })).status).toBe(400);
    const expired = await register(edge);
    await db().query("update refresh_tokens set expires_at = now() - interval '1 second' where user_id = $1", [
      expired.id,
    ]);
    expect((await refresh(expired.refresh_token)).status).toBe(401);
    const suspended = await register(edge);
    await db().query("update users set status = 2 where id = $1", [suspended.id]);
    expect((await refresh(suspended.refresh_token)).status).toBe(401);
  });
});

describe("logout", () => {
  it("revokes the refresh token's family and needs an access token", async () => {
    const user = await register(edge);
    expect((await call(edge, "POST", "/v1/auth/logout", { body: { refresh_token: user.refresh_token } })).status).toBe(
      401,
    );
    const res = await call(edge, "POST", "/v1/auth/logout", {
      token: user.token,
      body: { refresh_token: user.refresh_token },
    });
    expect(res.status).toBe(204);
    expect((await refresh(user.refresh_token)).status).toBe(401);
  });

  it("cannot revoke another user's tokens", async () => {
    const [alice, bob] = await Promise.all([register(edge), register(edge)]);
    expect(
      (await call(edge, "POST", "/v1/auth/logout", { token: alice.token, body: { refresh_token: bob.refresh_token } }))
        .status,
    ).toBe(204);
    expect((await refresh(bob.refresh_token)).status).toBe(200);
  });
});

describe("access tokens", () => {
  it("refuses expired, foreign-signed, tampered and unsigned tokens", async () => {
    const user = await register(edge);
    const check = (token: string) => call(edge, "GET", "/v1/auth/session", { token });
    expect((await check(user.token)).status).toBe(200);
    expect((await check(await tokenFor(user, -10))).status).toBe(401);
    const { privateKey } = await generateKeyPair("ES256");
    const now = Math.floor(Date.now() / 1000);
    const foreign = await new SignJWT({ handle: user.handle })
      .setProtectedHeader({ alg: "ES256", typ: "at+jwt" })
      .setIssuer("edge-chat")
      .setAudience("edge-chat:api")
      .setSubject(user.id)
      .setExpirationTime(now + 60)
      .sign(privateKey);
    expect((await check(foreign)).status).toBe(401);
    const [h, p, s] = user.token.split(".");
    const claims = JSON.parse(Buffer.from(p!, "base64url").toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: "00000000-0000-4000-8000-000000000000" })).toString(
      "base64url",
    );
    expect((await check(`${h}.${forged}.${s}`)).status).toBe(401);
    const none = Buffer.from(JSON.stringify({ alg: "none", typ: "at+jwt" })).toString("base64url");
    expect((await check(`${none}.${p}.`)).status).toBe(401);
    expect(
      (await call(edge, "GET", "/v1/auth/session", { headers: { authorization: `Basic ${user.token}` } })).status,
    ).toBe(401);
  });
});
