// A login's one round trip: a single statement finds the account, counts the attempt under each
// throttle key (increment and read, atomically: simultaneous guesses each see the ones before),
// decides the throttle, and stores the refresh token the answer will carry if the password turns
// out right. The token is random and leaves the server only after scrypt says yes, so storing it
// before then reveals nothing; a failed attempt deletes it again after the answer (settle*).
import { sql } from "drizzle-orm";
import { type Database, AuthProvider, UserStatus } from "../../db/index.js";
import type { LoginLimits, ThrottleKeys } from "./throttle.js";

export interface LoginInput {
  handle: string;
  ip: string | null;
  deviceId: string | null;
  keys: ThrottleKeys;
  limits: LoginLimits;
  /** the refresh token's row, stored only for an active account that passed the throttle */
  token: { hash: string; familyId: string; expiresAt: Date };
}

export interface LoginStart {
  /** set when a throttle refused: milliseconds until the earliest refusing window ends */
  retryAfterMs: number | null;
  account: {
    userId: string;
    handle: string;
    displayName: string;
    status: number;
    accountId: string;
    passwordHash: string | null;
  } | null;
  /** the stored refresh token's id; null when none was stored */
  tokenId: string | null;
}

interface Row extends Record<string, unknown> {
  user_id: string | null;
  handle: string | null;
  display_name: string | null;
  status: number | null;
  account_id: string | null;
  password_hash: string | null;
  retry_after_ms: number | null;
  token_id: string | null;
}

export async function beginLogin(db: Database, i: LoginInput): Promise<LoginStart> {
  const window = sql`(${i.limits.windowMs}::int * interval '1 millisecond')`;
  const { rows } = await db.execute<Row>(sql`
    with acct as (
      select u.id as user_id, u.handle, u.display_name, u.status, a.id as account_id, a.password_hash
      from auth_accounts a join users u on u.id = a.user_id
      where a.provider = ${AuthProvider.password} and a.identifier = ${i.handle}
    ),
    counted as (
      insert into login_attempts as t (key, attempts, window_started_at)
      select k, 1, now() from (values (${i.keys.handleIp}::text), (${i.keys.handle}::text), (${i.keys.ip}::text)) as v (k)
      where k is not null
      on conflict (key) do update set
        attempts = case when t.window_started_at <= now() - ${window} then 1 else t.attempts + 1 end,
        window_started_at = case when t.window_started_at <= now() - ${window} then now() else t.window_started_at end
      returning key, attempts, window_started_at
    ),
    known as (
      select exists (
        select 1 from user_login_history h join acct on h.user_id = acct.user_id
        where h.ip = ${i.ip}::text or h.device_id = ${i.deviceId}::text
      ) as known
    ),
    refused as (
      select c.window_started_at + ${window} as until
      from counted c cross join known
      where (c.key = ${i.keys.handleIp} and c.attempts > ${i.limits.perHandleIp})
         or (c.key = ${i.keys.ip}::text and c.attempts > ${i.limits.perIp})
         or (c.key = ${i.keys.handle} and c.attempts > ${i.limits.perHandle} and not known.known)
    ),
    token as (
      insert into refresh_tokens (user_id, token_hash, family_id, expires_at)
      select acct.user_id, ${i.token.hash}, ${i.token.familyId}::uuid, ${i.token.expiresAt.toISOString()}::timestamptz
      from acct
      where acct.status = ${UserStatus.active} and not exists (select 1 from refused)
      returning id
    )
    select acct.*,
      (select ceil(extract(epoch from min(until) - now()) * 1000)::int from refused) as retry_after_ms,
      (select id from token) as token_id
    from (select 1) as one left join acct on true
  `);
  const row = rows[0];
  if (!row) throw new Error("the login statement answered no row");
  return {
    // a window that ends in this very moment still refused: never answer 0
    retryAfterMs: row.retry_after_ms === null ? null : Math.max(1000, row.retry_after_ms),
    account: row.user_id
      ? {
          userId: row.user_id,
          handle: row.handle!,
          displayName: row.display_name!,
          status: row.status!,
          accountId: row.account_id!,
          passwordHash: row.password_hash,
        }
      : null,
    tokenId: row.token_id,
  };
}

/** After a refused or failed attempt: the token nobody received goes. The attempt stays counted. */
export async function discardToken(db: Database, tokenId: string | null): Promise<void> {
  if (tokenId) await db.execute(sql`delete from refresh_tokens where id = ${tokenId}::uuid and rotated_at is null`);
}

/** After a success: the attempt is given back, and this (handle, IP) starts afresh. */
export async function creditSuccess(db: Database, keys: ThrottleKeys): Promise<void> {
  await db.execute(sql`
    with cleared as (delete from login_attempts where key = ${keys.handleIp})
    update login_attempts set attempts = greatest(attempts - 1, 0)
    where key = ${keys.handle} or key = ${keys.ip}::text
  `);
}

/** Windows that ended carry nothing; a login now and then removes a bounded batch of them. */
export async function pruneAttempts(db: Database, windowMs: number): Promise<void> {
  await db.execute(sql`
    delete from login_attempts where key in (
      select key from login_attempts
      where window_started_at <= now() - (${windowMs}::int * interval '1 millisecond')
      limit 1000
    )
  `);
}
