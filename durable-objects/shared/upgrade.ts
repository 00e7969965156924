// The edge hands each object a WebSocket upgrade with the verified ticket's claims in a header
// (the edge checked signature and expiry; the object checks single use and access).
import { SOCKET_CLAIMS_HEADER, type SocketClaims } from "../../protocol/index.js";

/** The claims of an upgrade request, or null when it is not one the edge forwarded. */
export function claimsOf(request: Request): SocketClaims | null {
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return null;
  try {
    return JSON.parse(request.headers.get(SOCKET_CLAIMS_HEADER) ?? "null") as SocketClaims | null;
  } catch {
    return null;
  }
}

export function jsonError(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}
