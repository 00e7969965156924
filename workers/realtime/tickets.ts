// Connect tickets: 30-second single-use JWTs that open a WebSocket, so no long-lived token ever
// travels in a URL (where proxies and logs keep it). The edge checks signature and expiry; the
// object that accepts the socket records the ticket id and refuses it a second time.
import { SignJWT, jwtVerify } from "jose";
import { TICKET_TTL_SECONDS, type SocketClaims } from "../../protocol/index.js";
import { ISSUER, keysFor } from "../../lib/auth-tokens/index.js";
import type { AuthContext, Env } from "../env.js";

const AUDIENCE = "edge-chat:connect";
const TYP = "ticket+jwt";

export async function signTicket(
  env: Env,
  auth: AuthContext,
  deviceId: string,
  roomId?: string,
): Promise<{ ticket: string; expiresAt: Date }> {
  const keys = await keysFor(env);
  const now = Math.floor(Date.now() / 1000);
  const exp = now + TICKET_TTL_SECONDS;
  const ticket = await new SignJWT({
    dev: deviceId,
    tex: Math.floor(auth.expiresAt / 1000),
    ...(roomId ? { room: roomId } : {}),
  })
    .setProtectedHeader({ alg: "ES256", kid: keys.kid, typ: TYP })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(auth.userId)
    .setJti(crypto.randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(exp)
    .sign(keys.sign);
  return { ticket, expiresAt: new Date(exp * 1000) };
}

/** The ticket's claims, or null when it is not ours, expired, or meant for another socket. */
export async function verifyTicket(env: Env, ticket: string, roomId: string | null): Promise<SocketClaims | null> {
  try {
    const keys = await keysFor(env);
    const { payload } = await jwtVerify(ticket, keys.verify, {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ["ES256"],
      typ: TYP,
    });
    const { sub, jti, exp, dev, tex, room } = payload as Record<string, unknown>;
    if (
      typeof sub !== "string" ||
      typeof jti !== "string" ||
      typeof exp !== "number" ||
      typeof dev !== "string" ||
      typeof tex !== "number"
    )
      return null;
    // a session ticket opens no stream and a room's ticket opens only that room
    if ((room ?? null) !== roomId) return null;
    return {
      user_id: sub,
      device_id: dev,
      ticket_id: jti,
      ticket_expires_at: exp * 1000,
      token_expires_at: tex * 1000,
      ...(typeof room === "string" ? { room_id: room } : {}),
    };
  } catch {
    return null;
  }
}
