// Access tokens: short-lived ES256 JWTs, checked at the edge with the public key alone, so no
// request pays a database round trip to authenticate.
import { SignJWT, createLocalJWKSet, importJWK, jwtVerify, type JWK, type JWTVerifyGetKey } from "jose";

/** Who a verified access token speaks for. */
export interface AuthContext {
  userId: string;
  handle: string;
  /** epoch ms when the access token expires */
  expiresAt: number;
}

/** The keys' settings (Worker secrets): the signing key, and older public keys during a rotation. */
export interface TokenKeySettings {
  /** ES256 private key as a JWK (JSON) with a `kid` */
  JWT_PRIVATE_JWK: string;
  /** optional JWKS (JSON) of further public keys still accepted */
  JWT_PUBLIC_JWKS?: string;
}

export const ISSUER = "edge-chat";
const AUDIENCE = "edge-chat:api";
export const DEFAULT_ACCESS_TTL_SECONDS = 900;

interface Keys {
  source: string;
  kid: string;
  sign: CryptoKey;
  verify: JWTVerifyGetKey;
}
let cached: Keys | undefined;

/** The signing key and the verifier of every key still accepted; also signs connect tickets. */
export async function keysFor(env: TokenKeySettings): Promise<Keys> {
  const source = env.JWT_PRIVATE_JWK + (env.JWT_PUBLIC_JWKS ?? "");
  if (cached?.source === source) return cached;
  if (!env.JWT_PRIVATE_JWK) throw new Error("JWT_PRIVATE_JWK is not configured");
  const priv = JSON.parse(env.JWT_PRIVATE_JWK) as JWK;
  if (!priv.kid) throw new Error("JWT_PRIVATE_JWK needs a kid");
  const { d: _d, ...pub } = priv;
  const extra = env.JWT_PUBLIC_JWKS ? ((JSON.parse(env.JWT_PUBLIC_JWKS) as { keys: JWK[] }).keys ?? []) : [];
  const sign = (await importJWK({ ...priv, alg: "ES256" }, "ES256")) as CryptoKey;
  const verify = createLocalJWKSet({ keys: [{ ...pub, alg: "ES256", use: "sig" }, ...extra] });
  cached = { source, kid: priv.kid, sign, verify };
  return cached;
}

export async function signAccessToken(
  env: TokenKeySettings & { ACCESS_TOKEN_TTL_SECONDS?: string },
  user: Pick<AuthContext, "userId" | "handle">,
): Promise<{ token: string; expiresAt: Date }> {
  const keys = await keysFor(env);
  const ttl = Number(env.ACCESS_TOKEN_TTL_SECONDS ?? DEFAULT_ACCESS_TTL_SECONDS);
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ handle: user.handle })
    .setProtectedHeader({ alg: "ES256", kid: keys.kid, typ: "at+jwt" })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(user.userId)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .sign(keys.sign);
  return { token, expiresAt: new Date((now + ttl) * 1000) };
}

/** null for any token that is not ours, not valid yet, or expired. */
export async function verifyAccessToken(env: TokenKeySettings, token: string): Promise<AuthContext | null> {
  try {
    const keys = await keysFor(env);
    const { payload } = await jwtVerify(token, keys.verify, {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ["ES256"],
      typ: "at+jwt",
    });
    if (typeof payload.sub !== "string" || typeof payload.handle !== "string" || typeof payload.exp !== "number")
      return null;
    return { userId: payload.sub, handle: payload.handle, expiresAt: payload.exp * 1000 };
  } catch {
    return null;
  }
}
