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

/** What distinguishes one kind of token from another: a token of one kind never passes as another. */
export interface TokenKind {
  audience: string;
  typ: string;
}

const ACCESS: TokenKind = { audience: AUDIENCE, typ: "at+jwt" };

/** Signs `claims` for `subject` as a token of `kind`, valid for `ttlSeconds`. */
export async function signToken(
  env: TokenKeySettings,
  kind: TokenKind,
  subject: string,
  claims: Record<string, unknown>,
  ttlSeconds: number,
  opts: { jti?: string } = {},
): Promise<{ token: string; expiresAt: Date }> {
  const keys = await keysFor(env);
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", kid: keys.kid, typ: kind.typ })
    .setIssuer(ISSUER)
    .setAudience(kind.audience)
    .setSubject(subject)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds);
  if (opts.jti) jwt = jwt.setJti(opts.jti);
  return { token: await jwt.sign(keys.sign), expiresAt: new Date((now + ttlSeconds) * 1000) };
}

/** The payload of a valid token of `kind`, or null for any token that is not ours, not valid yet, or expired. */
export async function verifyToken(
  env: TokenKeySettings,
  kind: TokenKind,
  token: string,
): Promise<Record<string, unknown> | null> {
  try {
    const keys = await keysFor(env);
    const { payload } = await jwtVerify(token, keys.verify, {
      issuer: ISSUER,
      audience: kind.audience,
      algorithms: ["ES256"],
      typ: kind.typ,
    });
    return payload as Record<string, unknown>;
  } catch {
    return null;
  }
}

export async function signAccessToken(
  env: TokenKeySettings & { ACCESS_TOKEN_TTL_SECONDS?: string },
  user: Pick<AuthContext, "userId" | "handle">,
): Promise<{ token: string; expiresAt: Date }> {
  const ttl = Number(env.ACCESS_TOKEN_TTL_SECONDS ?? DEFAULT_ACCESS_TTL_SECONDS);
  return signToken(env, ACCESS, user.userId, { handle: user.handle }, ttl);
}

export async function verifyAccessToken(env: TokenKeySettings, token: string): Promise<AuthContext | null> {
  const p = await verifyToken(env, ACCESS, token);
  if (typeof p?.sub !== "string" || typeof p.handle !== "string" || typeof p.exp !== "number") return null;
  return { userId: p.sub, handle: p.handle, expiresAt: p.exp * 1000 };
}
