// A room near its storage limit refuses sends `unavailable` (nothing stored, nothing acked)
// rather than failing a transaction, and keeps serving everything else.
import { describe, expect, it } from "vitest";
import { call } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";
import { openStream } from "../../test/support/sockets.js";
import { group, people, type Seeded } from "../../test/support/rooms.js";

const LIMIT = 400_000;
const edge = useEdge({ ROOM_STORAGE_LIMIT_BYTES: String(LIMIT), SEND_BURST: "1000", SEND_RATE_PER_SECOND: "1000" });

describe("a room at its storage limit", () => {
  it("refuses sends with unavailable before a write fails, and still serves history and reads", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await group(edge, a, [b]);
    const s = await openStream(edge, a, room.id);
    const body = "😀".repeat(4000); // 16 KB
    const acked: string[] = [];
    let refused: Record<string, unknown> | undefined;
    for (let i = 0; i < 60 && !refused; i++) {
      const cmid = `fill-${i}`;
      s.send({ type: "send", room_id: room.id, client_message_id: cmid, body });
      const answer = await s.take(
        (f) => (f.type === "ack" || f.type === "error") && (f.client_message_id ?? f.ref) === cmid,
      );
      if (answer.type === "ack") acked.push(cmid);
      else refused = answer;
    }
    // 60 × 16 KB would be ~1 MB: the room stopped near its 400 KB limit
    expect(refused).toMatchObject({ type: "error", code: "unavailable" });
    expect(String(refused!.message)).toMatch(/storage is full/);
    expect(acked.length).toBeGreaterThan(5);
    expect(acked.length).toBeLessThan(30);
    // later sends are refused the same way, small ones too
    s.send({ type: "send", room_id: room.id, client_message_id: "small", body: "hi" });
    expect(await s.take((f) => f.type === "error" && f.ref === "small")).toMatchObject({ code: "unavailable" });
    // what was acked is all there, and nothing refused was stored
    const page = await call(edge, "GET", `/v1/rooms/${room.id}/messages?after_seq=0&limit=100`, { token: b.token });
    expect(page.body.messages.map((m: { client_message_id: string }) => m.client_message_id)).toEqual(acked);
    // reads still move
    const reader = await openStream(edge, b, room.id);
    reader.send({ type: "read", room_id: room.id, seq: acked.length });
    expect(await s.take((f) => f.type === "receipt" && f.user_id === b.id)).toMatchObject({ read_seq: acked.length });
    await Promise.all([s.close(), reader.close()]);
  });
});

describe("read rows without a sink", () => {
  it("keep one waiting offset per member, however many reads move it", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await group(edge, a, [b]);
    const s = await openStream(edge, a, room.id);
    for (let i = 1; i <= 30; i++) {
      s.send({ type: "send", room_id: room.id, client_message_id: `r-${i}`, body: "hi" });
      await s.take((f) => f.type === "ack" && f.client_message_id === `r-${i}`);
    }
    const reader = await openStream(edge, b, room.id);
    for (let seq = 1; seq <= 30; seq++) reader.send({ type: "read", room_id: room.id, seq });
    await s.take((f) => f.type === "receipt" && f.user_id === b.id && f.read_seq === 30);
    const ns = await edge.mf.getDurableObjectNamespace("CHAT_ROOM");
    const room$ = ns.get(ns.idFromName(room.id)) as unknown as {
      inspect(): Promise<{ outbox: Record<string, number> }>;
    };
    // 30 moves of one reader: one row (30 before), beside the 30 messages waiting for a sink (the
    // sender's sends read only their own messages: the room keeps that read to itself)
    expect((await room$.inspect()).outbox).toMatchObject({ read: 1, message: 30 });
    await Promise.all([s.close(), reader.close()]);
  });
});
