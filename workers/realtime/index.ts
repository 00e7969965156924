// The realtime edge: connect tickets, the two WebSocket upgrades (session socket and room
// stream) handed to their Durable Objects, and message history served by the room.
import { Hono, type Context } from "hono";
import {
  ConnectQuery,
  HistoryQuery,
  SOCKET_CLAIMS_HEADER,
  StreamQuery,
  TicketBody,
  type HistoryPage,
  type SocketClaims,
  type TicketResponse,
} from "../../protocol/index.js";
import type { AppBindings } from "../env.js";
import { HttpError, unauthorized } from "../http/errors.js";
import { enforceRateLimit } from "../http/rate-limit.js";
import { idParam, readJson, readQuery } from "../http/validate.js";
import { locationHintFor } from "./location.js";
import { roomStub, sessionStub } from "./room-sync.js";
import { signTicket, verifyTicket } from "./tickets.js";

const lower = (id: string) => id.toLowerCase();

/** Public: a ticket is the credential. Checked here, before any upgrade. */
export const upgradeRoutes = new Hono<AppBindings>();

function forward(
  c: Context<AppBindings>,
  claims: SocketClaims,
  stub: { fetch(req: Request): Promise<Response> },
): Promise<Response> {
  const headers = new Headers(c.req.raw.headers);
  headers.set(SOCKET_CLAIMS_HEADER, JSON.stringify(claims));
  // No permessage-deflate toward the object (see no_web_socket_compression in wrangler.toml):
  // frames are small, and a broadcast would be compressed once per socket.
  headers.delete("Sec-WebSocket-Extensions");
  return stub.fetch(new Request(c.req.raw.url, { method: "GET", headers }));
}

function requireUpgrade(c: Context<AppBindings>) {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket")
    throw new HttpError(426, "invalid", "this endpoint needs a WebSocket upgrade (Upgrade: websocket)");
}

upgradeRoutes.get("/connect", async (c) => {
  const { ticket } = readQuery(c, ConnectQuery);
  const claims = await verifyTicket(c.env, ticket, null);
  if (!claims) throw unauthorized("the ticket is invalid or expired; get a new one from POST /v1/connect/ticket");
  requireUpgrade(c);
  const cf = (c.req.raw as Request & { cf?: { continent?: unknown; longitude?: unknown } }).cf;
  return forward(c, claims, sessionStub(c.env, claims.user_id, locationHintFor(cf)));
});

upgradeRoutes.get("/rooms/:id/stream", async (c) => {
  const roomId = lower(idParam(c, "id"));
  const { ticket } = readQuery(c, StreamQuery);
  const claims = await verifyTicket(c.env, ticket, roomId);
  if (!claims)
    throw unauthorized(
      "the ticket is invalid, expired, or for another room; get a new one from POST /v1/connect/ticket",
    );
  requireUpgrade(c);
  return forward(c, claims, roomStub(c.env, roomId));
});

/** Authenticated. */
export const realtimeRoutes = new Hono<AppBindings>();

realtimeRoutes.post("/connect/ticket", async (c) => {
  const body = await readJson(c, TicketBody);
  const auth = c.get("auth");
  await enforceRateLimit(c, "ticket", auth.userId);
  const roomId = body.room_id ? lower(body.room_id) : undefined;
  if (roomId) {
    // the room's own membership copy answers (as it does again at the upgrade): no PostgreSQL here
    const denied = await roomStub(c.env, roomId).streamAccess(auth.userId);
    if (denied) throw new HttpError(denied.status, denied.code, denied.message);
  }
  const { ticket, expiresAt } = await signTicket(c.env, auth, body.device_id, roomId);
  return c.json({ ticket, expires_at: expiresAt.toISOString() } satisfies TicketResponse);
});

realtimeRoutes.get("/rooms/:id/messages", async (c) => {
  const roomId = lower(idParam(c, "id"));
  const q = readQuery(c, HistoryQuery);
  const answer = await roomStub(c.env, roomId).history(c.get("auth").userId, q);
  if ("status" in answer)
    throw new HttpError(
      answer.status,
      answer.status === 404 ? "not_found" : answer.status === 503 ? "unavailable" : "forbidden",
      answer.message,
    );
  return c.json(answer.page satisfies HistoryPage);
});
