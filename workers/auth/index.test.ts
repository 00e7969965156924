import { SignJWT, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { call, db, register, tokenFor, uniqueHandle } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";
import { eventually } from "../../test/support/sockets.js";

const edge = useEdge();

const login = (handle: string, password: string, headers: Record<string, string> = {}) =>
  call(edge, "POST", "/v1/auth/login", { body: { handle, password }, headers });
// an address no other test (or earlier run over the same database) logs in from
let ips = 0;
const uniqueIp = () => {
  ips += 1;
  return `10.${process.pid % 250}.${Math.floor(ips / 250) % 250}.${(ips % 250) + 1}`;
};
const from = (ip: string) => ({ "cf-connecting-ip": ip });
const failedLogins = async (handle: string) =>
  (
    await db().query("select count(*)::int as n from auth_logs where handle = $1 and event = 1 and success = false", [
      handle,
    ])
  ).rows[0].n as number;

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
    // written after the answer (off its path), so polled
    const history = await eventually(async () => {
      const { rows } = await db().query("select platform, ip from user_login_history where user_id = $1 and ip = $2", [
        user.id,
        "203.0.113.7",
      ]);
      return rows[0];
    });
    expect(history).toEqual({ platform: 1, ip: "203.0.113.7" });
    const logs = await eventually(async () => {
      const { rows } = await db().query("select success from auth_logs where user_id = $1 and event = 1", [user.id]);
      return rows.length ? rows : null;
    });
    expect(logs).toEqual([{ success: true }]);
    // the refresh token the answer carried works at once
    expect((await refresh(res.body.refresh_token)).status).toBe(200);
  });

  it("gives the same answer for a wrong password and an unknown handle", async () => {
    const user = await register(edge);
    const wrong = await login(user.handle, "not the password");
    const unknown = await login(uniqueHandle("ghost"), "whatever pw");
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
  });

  it("throttles a (handle, IP) after 5 failures, even for the right password", async () => {
    const user = await register(edge);
    for (let i = 0; i < 5; i++) expect((await login(user.handle, `wrong ${i}`)).status).toBe(401);
    const res = await login(user.handle, user.password);
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe("rate_limited");
    expect(res.body.error.retry_after_ms).toBeGreaterThan(60_000);
    expect(res.headers.get("retry-after")).toBeTruthy();
    await eventually(async () => (await failedLogins(user.handle)) === 5);
    // refused attempts are not evaluated, so not logged as failures either
    expect(await failedLogins(user.handle)).toBe(5);
  });

  it("counts simultaneous wrong passwords before hashing: of 40 at once, 5 are evaluated", async () => {
    const user = await register(edge);
    const ip = uniqueIp();
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => login(user.handle, `wrong ${i}`, from(ip))));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(35);
    await eventually(async () => (await failedLogins(user.handle)) === 5);
    // a moment later nothing else was evaluated behind the answers
    await new Promise((r) => setTimeout(r, 300));
    expect(await failedLogins(user.handle)).toBe(5);
  });

  it("under a handle's lock, admits addresses and devices that logged in before, refuses new ones", async () => {
    const known = uniqueIp();
    const user = await register(edge);
    const device = `dev-${user.id.slice(0, 8)}`;
    expect((await login(user.handle, user.password, from(known))).status).toBe(200);
    expect(
      (
        await call(edge, "POST", "/v1/auth/login", {
          body: { handle: user.handle, password: user.password, device_id: device },
          headers: from(uniqueIp()),
        })
      ).status,
    ).toBe(200);
    await eventually(async () => {
      const { rows } = await db().query("select count(*)::int as n from user_login_history where user_id = $1", [
        user.id,
      ]);
      return rows[0].n >= 3; // register, and the two logins
    });
    // 20 strangers, 1 guess each: no (handle, IP) pair is near its limit, the handle is
    const guesses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => login(user.handle, `guess ${i}`, from(uniqueIp()))),
    );
    expect(guesses.map((g) => g.status)).toEqual(Array(20).fill(401));

    const stranger = await login(user.handle, user.password, from(uniqueIp()));
    expect(stranger.status).toBe(429);
    expect(stranger.body.error.code).toBe("rate_limited");
    expect(stranger.body.error.retry_after_ms).toBeGreaterThan(60_000);
    expect((await login(user.handle, user.password, from(known))).status).toBe(200);
    const onDevice = await call(edge, "POST", "/v1/auth/login", {
      body: { handle: user.handle, password: user.password, device_id: device },
      headers: from(uniqueIp()),
    });
    expect(onDevice.status).toBe(200);
    // a known address still cannot guess: its own (handle, IP) limit holds
    for (let i = 0; i < 5; i++) expect((await login(user.handle, `wrong ${i}`, from(known))).status).toBe(401);
    expect((await login(user.handle, user.password, from(known))).status).toBe(429);
  });

  it("gives a success's attempt back: an owner who logs in often is never throttled", async () => {
    const user = await register(edge);
    const ip = uniqueIp();
    expect((await login(user.handle, "typo", from(ip))).status).toBe(401);
    for (let i = 0; i < 8; i++) expect((await login(user.handle, user.password, from(ip))).status).toBe(200);
    // the typo was cleared by the success after it: five more wrong ones are still judged
    await eventually(async () => {
      const { rows } = await db().query("select attempts from login_attempts where key = $1", [
        `hi:${ip}|${user.handle}`,
      ]);
      return rows.length === 0;
    });
    for (let i = 0; i < 5; i++) expect((await login(user.handle, `wrong ${i}`, from(ip))).status).toBe(401);
  });

  it("throttles an address after 30 failures across handles", async () => {
    const ip = uniqueIp();
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => login(uniqueHandle("ghost"), "whatever pw", from(ip))),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(30).fill(401));
    const user = await register(edge);
    expect((await login(user.handle, user.password, from(ip))).status).toBe(429);
    expect((await login(user.handle, user.password, from(uniqueIp()))).status).toBe(200);
  });

  it("stores no refresh token for an attempt that failed or was refused", async () => {
    const user = await register(edge);
    const ip = uniqueIp();
    await Promise.all(Array.from({ length: 8 }, (_, i) => login(user.handle, `wrong ${i}`, from(ip))));
    await eventually(async () => {
      const { rows } = await db().query("select count(*)::int as n from refresh_tokens where user_id = $1", [user.id]);
      return rows[0].n === 1; // the one register issued
    });
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
  it("ends a family at its absolute lifetime, however often it rotated", async () => {
    const user = await register(edge);
    const first = await refresh(user.refresh_token);
    const second = await refresh(first.body.refresh_token);
    expect(second.status).toBe(200);
    const family = `(select family_id from refresh_tokens where user_id = $1 limit 1)`;
    // 89.5 days into the 90: a rotation still works, but its successor lives only half a day
    await db().query(
      `update refresh_tokens set created_at = created_at - interval '89 days 12 hours' where family_id = ${family}`,
      [user.id],
    );
    const late = await refresh(second.body.refresh_token);
    expect(late.status).toBe(200);
    const { rows } = await db().query(
      "select extract(epoch from expires_at - now())::float8 as left_s from refresh_tokens where user_id = $1 order by created_at desc limit 1",
      [user.id],
    );
    expect(rows[0].left_s).toBeLessThan(13 * 3600);
    expect(rows[0].left_s).toBeGreaterThan(11 * 3600);
    // past the 90 days every token of the family is refused, even one whose own expiry is far
    await db().query(
      `update refresh_tokens set created_at = created_at - interval '1 day', expires_at = now() + interval '20 days' where family_id = ${family}`,
      [user.id],
    );
    const ended = await refresh(late.body.refresh_token);
    expect(ended.status).toBe(401);
    expect(ended.body.error.message).toMatch(/expired/);
  });

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
