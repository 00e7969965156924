// /v1/auth: register, login, refresh (rotating), logout.
import { and, eq, isNull, sql } from "drizzle-orm";
import { Hono, type Context } from "hono";
import {
  type Database,
  AuthEvent,
  AuthProvider,
  UserStatus,
  authAccounts,
  authLogs,
  refreshTokens,
  userLoginHistory,
  users,
} from "../../db/index.js";
import {
  LoginBody,
  LogoutBody,
  RefreshBody,
  RegisterBody,
  type AuthResponse,
  type AuthTokens,
} from "../../protocol/index.js";
import type { AppBindings, Env } from "../env.js";
import { clientInfo, type ClientInfo } from "../http/client-info.js";
import { afterResponse, dbOf } from "../http/db.js";
import { HttpError, conflict, rateLimited, unauthorized } from "../http/errors.js";
import { enforceRateLimit } from "../http/rate-limit.js";
import { readJson } from "../http/validate.js";
import { publicUser } from "../users/public-user.js";
import { signAccessToken } from "../../lib/auth-tokens/index.js";
import { DEFAULT_SCRYPT, dummyHash, hashPassword, verifyPassword, type ScryptParams } from "./password.js";
import {
  DEFAULT_REFRESH_FAMILY_MAX_DAYS,
  DEFAULT_REFRESH_TTL_DAYS,
  REUSE_GRACE_MS,
  familyExpired,
  tokenExpiry,
  hashRefreshToken,
  isWellFormed,
  newRefreshToken,
  successorOf,
} from "./refresh-tokens.js";
import { sessionStub } from "../realtime/room-sync.js";
import { requireAuth } from "./require-auth.js";
import { retireClientDevice } from "../devices/store.js";
import { decimalNumber, type ConfigEnv } from "../../lib/config/index.js";
import { beginLogin, creditSuccess, discardToken, pruneAttempts } from "./login-attempt.js";
import { loginLimits, throttleKeys } from "./throttle.js";

// share of logins that also prune ended throttle windows (in the background)
const PRUNE_SHARE = 0.01;

const BAD_CREDENTIALS = "wrong handle or password";

function scryptParams(env: Env): ScryptParams {
  const logN = Number(env.PASSWORD_SCRYPT_LOG_N);
  return Number.isInteger(logN) && logN >= 10 && logN <= 20 ? { ...DEFAULT_SCRYPT, logN } : DEFAULT_SCRYPT;
}

function familyMaxDays(env: Env): number {
  return decimalNumber(env as unknown as ConfigEnv, "REFRESH_FAMILY_MAX_DAYS", {
    default: DEFAULT_REFRESH_FAMILY_MAX_DAYS,
    min: 0.00001,
  });
}

function refreshExpiry(env: Env, now: number, familyStartedAt: number): Date {
  const days = Number(env.REFRESH_TOKEN_TTL_DAYS ?? DEFAULT_REFRESH_TTL_DAYS);
  return tokenExpiry(now, familyStartedAt, days, familyMaxDays(env));
}

async function issueTokens(
  c: Context<AppBindings>,
  db: Pick<Database, "insert">,
  user: { id: string; handle: string },
  familyId?: string,
): Promise<AuthTokens> {
  const refresh = newRefreshToken();
  await db.insert(refreshTokens).values({
    userId: user.id,
    tokenHash: await hashRefreshToken(refresh),
    familyId: familyId ?? crypto.randomUUID(),
    expiresAt: refreshExpiry(c.env, Date.now(), Date.now()),
  });
  const access = await signAccessToken(c.env, { userId: user.id, handle: user.handle });
  return {
    access_token: access.token,
    refresh_token: refresh,
    access_token_expires_at: access.expiresAt.toISOString(),
  };
}

async function logAuth(
  db: Database,
  event: number,
  success: boolean,
  info: ClientInfo,
  userId: string | null,
  handle: string | null,
) {
  await db.insert(authLogs).values({ event, success, userId, handle, ip: info.ip, userAgent: info.userAgent });
}

export const authRoutes = new Hono<AppBindings>();

authRoutes.post("/register", async (c) => {
  const body = await readJson(c, RegisterBody);
  const db = dbOf(c);
  const info = clientInfo(c);
  // before the hash: scrypt is the cost this limit protects
  await enforceRateLimit(c, "register", info.ip ?? "unknown");
  const passwordHash = await hashPassword(body.password, scryptParams(c.env));
  // the account and its first tokens commit together: a failure leaves the handle free
  const created = await db.transaction(async (tx) => {
    const [user] = await tx
      .insert(users)
      .values({ handle: body.handle, displayName: body.display_name })
      .onConflictDoNothing({ target: users.handle })
      .returning();
    if (!user) return null;
    await tx
      .insert(authAccounts)
      .values({ userId: user.id, provider: AuthProvider.password, identifier: body.handle, passwordHash });
    return { user, tokens: await issueTokens(c, tx, user) };
  });
  if (!created) throw conflict("that handle is taken");
  const { user, tokens } = created;
  afterResponse(c, "register records", async (db) => {
    await logAuth(db, AuthEvent.register, true, info, user.id, user.handle);
    await db
      .insert(userLoginHistory)
      .values({ userId: user.id, platform: info.platform, ip: info.ip, userAgent: info.userAgent });
  });
  return c.json({ user: publicUser(user), ...tokens } satisfies AuthResponse, 201);
});

authRoutes.post("/login", async (c) => {
  const body = await readJson(c, LoginBody);
  const info = clientInfo(c);
  const limits = loginLimits(c.env as unknown as ConfigEnv);
  const keys = throttleKeys(body.handle, info.ip);
  const refresh = newRefreshToken();
  const familyId = crypto.randomUUID();
  const now = Date.now();
  // the one round trip on the answer's path; everything written after it waits for no one
  const start = await beginLogin(dbOf(c), {
    handle: body.handle,
    ip: info.ip,
    deviceId: body.device_id ?? null,
    keys,
    limits,
    token: { hash: await hashRefreshToken(refresh), familyId, expiresAt: refreshExpiry(c.env, now, now) },
  });
  const found = start.account;
  const after = (what: string, work: (db: Database) => Promise<unknown>) => afterResponse(c, what, work);
  if (Math.random() < PRUNE_SHARE) after("pruning login attempts", (db) => pruneAttempts(db, limits.windowMs));
  if (start.retryAfterMs !== null) {
    after("login refusal", (db) => discardToken(db, start.tokenId));
    throw rateLimited("too many failed logins; try again later", start.retryAfterMs);
  }
  const params = scryptParams(c.env);
  const check = await verifyPassword(body.password, found?.passwordHash ?? (await dummyHash(params)), params);
  const failed = (event: "wrong" | "suspended") =>
    after(`login ${event}`, async (db) => {
      await discardToken(db, start.tokenId);
      await logAuth(db, AuthEvent.login, false, info, found?.userId ?? null, body.handle);
    });
  // a deleted account answers exactly like an unknown handle
  if (!found || !check.ok || found.status === UserStatus.deleted) {
    failed("wrong");
    throw unauthorized(BAD_CREDENTIALS);
  }
  if (found.status !== UserStatus.active || !start.tokenId) {
    failed("suspended");
    throw new HttpError(403, "forbidden", "this account is suspended");
  }
  after("login records", async (db) => {
    if (check.needsRehash)
      await db
        .update(authAccounts)
        .set({ passwordHash: await hashPassword(body.password, params), updatedAt: new Date() })
        .where(eq(authAccounts.id, found.accountId));
    await creditSuccess(db, keys);
    await logAuth(db, AuthEvent.login, true, info, found.userId, body.handle);
    await db.insert(userLoginHistory).values({
      userId: found.userId,
      platform: info.platform,
      ip: info.ip,
      userAgent: info.userAgent,
      deviceId: body.device_id ?? null,
    });
  });
  const user = { id: found.userId, handle: found.handle, displayName: found.displayName };
  const access = await signAccessToken(c.env, { userId: user.id, handle: user.handle });
  return c.json({
    user: publicUser(user),
    access_token: access.token,
    refresh_token: refresh,
    access_token_expires_at: access.expiresAt.toISOString(),
  } satisfies AuthResponse);
});

authRoutes.post("/refresh", async (c) => {
  const { refresh_token: presented } = await readJson(c, RefreshBody);
  if (!isWellFormed(presented)) throw unauthorized("the refresh token is invalid");
  const db = dbOf(c);
  const info = clientInfo(c);
  const [row] = await db
    .select({
      token: refreshTokens,
      user: users,
      // the family's first token: its absolute lifetime counts from there
      familyStartedAt: sql<number>`(select (extract(epoch from min(f.created_at)) * 1000)::float8 from ${refreshTokens} f where f.family_id = ${refreshTokens.familyId})`,
    })
    .from(refreshTokens)
    .innerJoin(users, eq(users.id, refreshTokens.userId))
    .where(eq(refreshTokens.tokenHash, await hashRefreshToken(presented)));
  const fail = async (message: string, revokeFamily: boolean) => {
    if (row && revokeFamily) await revokeFamilyOf(db, row.token.familyId);
    await logAuth(db, AuthEvent.refresh, false, info, row?.user.id ?? null, row?.user.handle ?? null);
    return unauthorized(message);
  };
  if (!row) throw await fail("the refresh token is invalid", false);
  if (row.token.revokedAt) throw await fail("the refresh token was revoked", false);
  const now = Date.now();
  if (row.token.expiresAt.getTime() <= now || familyExpired(now, row.familyStartedAt, familyMaxDays(c.env)))
    throw await fail("the refresh token expired; sign in again", false);
  if (row.user.status !== UserStatus.active) throw await fail("this account cannot sign in", true);

  const successor = await successorOf(presented, c.env.REFRESH_TOKEN_SECRET);
  const successorHash = await hashRefreshToken(successor);
  // Claim the rotation and store the successor in one transaction: a concurrent refresh with the
  // same token blocks on the row lock until the successor exists, then takes the grace path.
  const rotated = await db.transaction(async (tx) => {
    const claimed = await tx
      .update(refreshTokens)
      .set({ rotatedAt: new Date() })
      .where(and(eq(refreshTokens.id, row.token.id), isNull(refreshTokens.rotatedAt), isNull(refreshTokens.revokedAt)))
      .returning({ id: refreshTokens.id });
    if (!claimed.length) return false;
    await tx.insert(refreshTokens).values({
      userId: row.user.id,
      tokenHash: successorHash,
      familyId: row.token.familyId,
      rotatedFrom: row.token.id,
      expiresAt: refreshExpiry(c.env, now, row.familyStartedAt),
    });
    return true;
  });
  if (!rotated) {
    // Presented again after rotation: the same successor within the grace period, else theft.
    const [fresh] = await db.select().from(refreshTokens).where(eq(refreshTokens.id, row.token.id));
    const rotatedAt = fresh?.rotatedAt?.getTime() ?? 0;
    const [next] = await db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, successorHash));
    const withinGrace = Date.now() - rotatedAt <= REUSE_GRACE_MS;
    if (!withinGrace || !next || next.revokedAt || fresh?.revokedAt)
      throw await fail("the refresh token was already used; sign in again", true);
  }
  const access = await signAccessToken(c.env, { userId: row.user.id, handle: row.user.handle });
  afterResponse(c, "refresh log", (db) => logAuth(db, AuthEvent.refresh, true, info, row.user.id, row.user.handle));
  return c.json({
    access_token: access.token,
    refresh_token: successor,
    access_token_expires_at: access.expiresAt.toISOString(),
  } satisfies AuthTokens);
});

// The caller's token as the edge sees it; answered from the token alone (no database).
authRoutes.get("/session", requireAuth, async (c) => {
  const me = c.get("auth");
  return c.json({ user_id: me.userId, handle: me.handle, expires_at: new Date(me.expiresAt).toISOString() });
});

authRoutes.post("/logout", requireAuth, async (c) => {
  const { refresh_token, device_id } = await readJson(c, LogoutBody);
  const db = dbOf(c);
  const me = c.get("auth");
  const [row] = await db
    .select({ familyId: refreshTokens.familyId })
    .from(refreshTokens)
    .where(
      and(eq(refreshTokens.tokenHash, await hashRefreshToken(refresh_token)), eq(refreshTokens.userId, me.userId)),
    );
  // Unknown or foreign tokens change nothing; logout stays idempotent.
  if (row) await revokeFamilyOf(db, row.familyId);
  await logAuth(db, AuthEvent.logout, true, clientInfo(c), me.userId, me.handle);
  if (device_id) {
    // its push tokens stop receiving (a signed-out phone shows nothing), and its open sockets
    // (the session socket and room streams) close with it
    await retireClientDevice(db, me.userId, device_id);
    await sessionStub(c.env, me.userId).closeDevice(device_id);
  }
  return c.body(null, 204);
});

async function revokeFamilyOf(db: Database, familyId: string) {
  await db
    .update(refreshTokens)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)));
}
