// Connect tickets: 30-second single-use JWTs that open a WebSocket, so no long-lived token ever
// travels in a URL (where proxies and logs keep it). The edge checks signature and expiry; the
// object that accepts the socket records the ticket id and refuses it a second time.
import { TICKET_TTL_SECONDS, type SocketClaims } from "../../protocol/index.js";
import { signToken, verifyToken, type TokenKind } from "../../lib/auth-tokens/index.js";
import type { AuthContext, Env } from "../env.js";

const TICKET: TokenKind = { audience: "edge-chat:connect", typ: "ticket+jwt" };

export async function signTicket(
  env: Env,
  auth: AuthContext,
  deviceId: string,
  roomId?: string,
): Promise<{ ticket: string; expiresAt: Date }> {
  const claims = { dev: deviceId, tex: Math.floor(auth.expiresAt / 1000), ...(roomId ? { room: roomId } : {}) };
  const { token, expiresAt } = await signToken(env, TICKET, auth.userId, claims, TICKET_TTL_SECONDS, {
    jti: crypto.randomUUID(),
  });
  return { ticket: token, expiresAt };
}

/** The ticket's claims, or null when it is not ours, expired, or meant for another socket. */
export async function verifyTicket(env: Env, ticket: string, roomId: string | null): Promise<SocketClaims | null> {
  const payload = await verifyToken(env, TICKET, ticket);
  if (!payload) return null;
  const { sub, jti, exp, dev, tex, room } = payload;
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
}
