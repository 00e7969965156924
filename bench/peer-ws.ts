// A bare `ws` chat server speaking just the part of the protocol bench/realtime.ts uses: the floor
// this machine and this load generator allow in the same hour, with nothing stored, ordered only
// in memory, no auth checked and no runtime in between. Run it, then point the bench at it:
//   npx tsx bench/peer-ws.ts [--port 8793]
//   npx tsx bench/realtime.ts --base http://127.0.0.1:8793 --only direct,large,fresh,steps
// What it does per message is what the edge's room does at least: number it, ack the sender, send
// one serialized frame to every socket of the room. What it leaves out (validation, dedupe, the
// durable write before the ack, hibernation, the archive outbox) is the edge's cost over it.
import { randomUUID } from "node:crypto";
import http from "node:http";
import { parseArgs } from "node:util";
import { UnsecuredJWT, decodeJwt } from "jose";
import { WebSocketServer, type WebSocket } from "ws";

const { values } = parseArgs({ options: { port: { type: "string", default: "8793" } } });

interface Room {
  seq: number;
  sockets: Set<WebSocket>;
}
const rooms = new Map<string, Room>();
const tickets = new Map<string, { userId: string; roomId: string }>();

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};
const userOf = (req: http.IncomingMessage) => decodeJwt((req.headers.authorization ?? "").slice(7)).sub as string;
const bodyOf = async (req: http.IncomingMessage) => {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
};

const server = http.createServer(async (req, res) => {
  try {
    const body = await bodyOf(req);
    if (req.method === "POST" && req.url === "/v1/auth/register") {
      const id = randomUUID();
      return json(res, 201, { user: { id }, access_token: new UnsecuredJWT({ sub: id }).encode() });
    }
    if (req.method === "POST" && req.url === "/v1/rooms") {
      const id = randomUUID();
      rooms.set(id, { seq: 0, sockets: new Set() });
      return json(res, 201, { room: { id } });
    }
    if (req.method === "POST" && req.url === "/v1/connect/ticket") {
      const ticket = randomUUID();
      tickets.set(ticket, { userId: userOf(req), roomId: String(body.room_id) });
      return json(res, 200, { ticket });
    }
    json(res, 404, { error: { code: "not_found" } });
  } catch (err) {
    json(res, 400, { error: { code: "invalid", message: String(err) } });
  }
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
server.on("upgrade", (req, socket, head) => {
  const url = new URL(req.url ?? "/", "http://peer");
  const claim = tickets.get(url.searchParams.get("ticket") ?? "");
  const room = claim && rooms.get(claim.roomId);
  if (!claim || !room) return socket.destroy();
  tickets.delete(url.searchParams.get("ticket")!);
  wss.handleUpgrade(req, socket, head, (ws) => {
    room.sockets.add(ws);
    ws.on("close", () => room.sockets.delete(ws));
    ws.on("message", (data) => {
      const f = JSON.parse(data.toString()) as Record<string, string>;
      if (f.type === "ping") return ws.send('{"type":"pong"}');
      if (f.type !== "send") return;
      const seq = ++room.seq;
      const created_at = new Date().toISOString();
      ws.send(JSON.stringify({ type: "ack", room_id: claim.roomId, client_message_id: f.client_message_id, seq }));
      const frame = JSON.stringify({
        type: "message",
        room_id: claim.roomId,
        seq,
        message_id: randomUUID(),
        sender_id: claim.userId,
        client_message_id: f.client_message_id,
        body: f.body,
        mentions: [],
        mention_all: false,
        created_at,
      });
      for (const s of room.sockets) s.send(frame);
    });
  });
});

server.listen(Number(values.port), "127.0.0.1", () => console.log(`bare ws peer on http://127.0.0.1:${values.port}`));
