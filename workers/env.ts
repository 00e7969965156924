import type { DbHandle } from "../db/client.js";

// Settings of the edge Worker. Plain vars come from wrangler.toml ([vars]); the rest are secrets
// (`wrangler secret put`) or, locally, written to .dev.vars by `npm start`.
export interface Env {
  DATABASE_URL: string;
  /** host:port/path of a local WebSocket-to-TCP Postgres proxy; unset in production (Neon) */
  NEON_WS_PROXY?: string;
  /** ES256 private key as a JWK (JSON) with a `kid`: signs access tokens */
  JWT_PRIVATE_JWK: string;
  /** optional JWKS (JSON) of further public keys still accepted, for key rotation */
  JWT_PUBLIC_JWKS?: string;
  /** HMAC key that derives a refresh token's successor (see auth/refresh-tokens.ts) */
  REFRESH_TOKEN_SECRET: string;
  ACCESS_TOKEN_TTL_SECONDS?: string;
  REFRESH_TOKEN_TTL_DAYS?: string;
  /** log2 of scrypt's N for new password hashes */
  PASSWORD_SCRYPT_LOG_N?: string;
}

export interface AuthContext {
  userId: string;
  handle: string;
  /** epoch ms when the access token that authenticated this request expires */
  expiresAt: number;
}

export type AppBindings = { Bindings: Env; Variables: { auth: AuthContext; dbHandle?: DbHandle } };
