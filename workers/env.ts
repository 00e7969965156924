import type { DbHandle } from "../db/client.js";

// Settings of the edge Worker. Plain vars and bindings are typed by `wrangler types` from
// wrangler.toml (worker-configuration.d.ts, regenerate with `npm run types`); secrets are declared
// here because they live outside wrangler.toml (`wrangler secret put`, locally .data/edge.env).
export interface Env extends Cloudflare.Env {
  DATABASE_URL: string;
  /** host:port/path of a local WebSocket-to-TCP Postgres proxy; unset in production (Neon) */
  NEON_WS_PROXY?: string;
  /** ES256 private key as a JWK (JSON) with a `kid`: signs access tokens */
  JWT_PRIVATE_JWK: string;
  /** optional JWKS (JSON) of further public keys still accepted, for key rotation */
  JWT_PUBLIC_JWKS?: string;
  /** HMAC key that derives a refresh token's successor (see auth/refresh-tokens.ts) */
  REFRESH_TOKEN_SECRET: string;
  /** base URL of the cassandra-sink; unset: rooms keep their outbox and serve only their hot tail */
  SINK_URL?: string;
  /** shared secret the sink expects as `Authorization: Bearer …` */
  SINK_SECRET?: string;
}

export interface AuthContext {
  userId: string;
  handle: string;
  /** epoch ms when the access token that authenticated this request expires */
  expiresAt: number;
}

export type AppBindings = { Bindings: Env; Variables: { auth: AuthContext; dbHandle?: DbHandle } };
