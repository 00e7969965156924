// Small helpers for tests that use the API as a client would.
import pg from "pg";
import { inject } from "vitest";
import type { AuthResponse, PublicUser } from "../../protocol/index.js";
import type { EdgeLike as Edge } from "./miniflare.js";
import { accessToken } from "./tokens.js";

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function call<T = any>(
  edge: Edge,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  } else if (opts.rawBody !== undefined) headers["content-type"] ??= "application/json";
  let res: Response;
  try {
    res = await edge.fetch(path, { method, headers, body });
  } catch (err) {
    // Under load workerd may close an idle keep-alive connection just as the client reuses it
    // ("other side closed" before any byte of the answer, or a reset while a large body was still
    // being written into it): no answer came, so send it again once, as browsers do on a reused
    // connection. Seen on two 70 KB bodies in one full run (never when their files ran alone); the
    // edge's 413 path itself is tested back to back in workers/http/body-limit.test.ts.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code !== "UND_ERR_SOCKET" && cause?.code !== "ECONNRESET")
      throw new Error(`${method} ${path}: ${String(err)} (${cause?.code ?? "no code"}: ${cause?.message ?? ""})`, {
        cause: err,
      });
    res = await edge.fetch(path, { method, headers, body });
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    /* keep text */
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

let counter = 0;
/** A handle no other test (or earlier run against the same database) uses. */
export function uniqueHandle(prefix = "u"): string {
  counter += 1;
  return `${prefix}_${Date.now().toString(36)}${process.pid.toString(36)}${counter}`.slice(0, 32);
}

export interface TestUser extends PublicUser {
  token: string;
  refresh_token: string;
  password: string;
}

/** Registers through the public API (real password hashing). */
export async function register(
  edge: Edge,
  opts: { handle?: string; display_name?: string; password?: string } = {},
): Promise<TestUser> {
  const handle = opts.handle ?? uniqueHandle();
  const password = opts.password ?? "correct horse battery";
  const res = await call<AuthResponse>(edge, "POST", "/v1/auth/register", {
    body: { handle, password, display_name: opts.display_name ?? `User ${handle}` },
  });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...res.body.user, token: res.body.access_token, refresh_token: res.body.refresh_token, password };
}

let pool: pg.Pool | undefined;
/** Direct SQL on the test database, for seeding in bulk and for asserting what was stored. */
export function db(): pg.Pool {
  pool ??= new pg.Pool({ connectionString: inject("databaseUrl"), max: 2 });
  return pool;
}

export async function closeDb() {
  await pool?.end();
  pool = undefined;
}

/** accessToken() with the key of this run's edges. */
export const tokenFor = (user: { id: string; handle: string }, ttlSeconds?: number): Promise<string> =>
  accessToken(inject("privateJwk"), user, ttlSeconds);

/** Inserts n active users straight into PostgreSQL (for cases that need hundreds of members). */
export async function seedUsers(n: number, prefix = "seed"): Promise<Array<PublicUser & { token: string }>> {
  const handles = Array.from({ length: n }, () => uniqueHandle(prefix));
  const { rows } = await db().query<{ id: string; handle: string; display_name: string }>(
    `insert into users (handle, display_name) select h, 'Seed ' || h from unnest($1::text[]) as h returning id, handle, display_name`,
    [handles],
  );
  return Promise.all(rows.map(async (r) => ({ ...r, token: await tokenFor(r) })));
}
