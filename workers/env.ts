import type { DbHandle } from "../db/index.js";
import type { ObjectEnv } from "../durable-objects/env.js";
import type { AuthContext } from "../lib/auth-tokens/index.js";

export type { AuthContext };

// Settings of the edge Worker. Plain vars and bindings are typed by `wrangler types` from
// wrangler.toml (worker-configuration.d.ts, regenerate with `npm run types`); secrets are declared
// here and in durable-objects/env.ts because they live outside wrangler.toml (`wrangler secret
// put`, locally .data/edge.env).
export interface Env extends Cloudflare.Env, ObjectEnv {
  /** HMAC key that derives a refresh token's successor (see auth/refresh-tokens.ts) */
  REFRESH_TOKEN_SECRET: string;
}

export type AppBindings = {
  Bindings: Env;
  Variables: { auth: AuthContext; dbHandle?: DbHandle; dbAfterResponse?: Promise<unknown>[] };
};
