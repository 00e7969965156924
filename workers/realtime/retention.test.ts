// Retention reaches every copy of a message: here the last message a user's session caches for
// GET /v1/rooms, served from that cache while the user is online.
import { describe, expect, it } from "vitest";
import { call } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";
import { openSession, openStream, sleep } from "../../test/support/sockets.js";
import { group, people, type Seeded } from "../../test/support/rooms.js";

const RETENTION_S = 4;
const edge = useEdge({ RETENTION_DAYS: String(RETENTION_S / 86_400) });

const listed = async (user: Seeded, roomId: string) => {
  const res = await call(edge, "GET", "/v1/rooms", { token: user.token });
  expect(res.status).toBe(200);
  return res.body.rooms.find((r: { room: { id: string } }) => r.room.id === roomId);
};

describe("retention of the session's room cache", () => {
  it("stops listing a room's last message once it is past retention, while the user stays online", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await group(edge, a, [b]);
    const session = await openSession(edge, b);
    await sleep(300); // the session subscribes to its rooms
    const stream = await openStream(edge, a, room.id);
    stream.send({ type: "send", room_id: room.id, client_message_id: "old-1", body: "soon gone" });
    await stream.takeType("ack");
    await session.take((f) => f.type === "activity" && f.room_id === room.id);
    expect((await listed(b, room.id)).last_message).toMatchObject({ body: "soon gone" });
    await sleep(RETENTION_S * 1000 + 500);
    const entry = await listed(b, room.id);
    expect(entry.last_message).toBeNull();
    // the count still stands: retention drops content, not the room's position
    expect(entry.unread_count).toBe(1);
    expect(session.isClosed).toBe(false);
    await Promise.all([session.close(), stream.close()]);
  });
});
