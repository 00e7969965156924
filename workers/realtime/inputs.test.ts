// Inputs a send carries, end to end: unpaired surrogates (the stored, live and replayed copies are
// the same bytes) and mention_all (a permission of the role: owners and admins by default).
import { describe, expect, it } from "vitest";
import { call, db } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";
import { openStream, type TestSocket } from "../../test/support/sockets.js";
import { group, people, type Seeded } from "../../test/support/rooms.js";

const edge = useEdge();

/** The raw text of the next message frame with this seq, as the socket received it. */
function rawMessages(s: TestSocket): string[] {
  const raw: string[] = [];
  s.ws.on("message", (data) => {
    const text = data.toString();
    if (text.includes('"type":"message"')) raw.push(text);
  });
  return raw;
}

describe("unpaired surrogates", () => {
  it("are stored, broadcast and replayed as U+FFFD, the same bytes on every path", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await group(edge, a, [b]);
    const sender = await openStream(edge, a, room.id);
    const live = await openStream(edge, b, room.id);
    const liveRaw = rawMessages(live);
    // JSON's escape is the only way to put a lone surrogate into a text frame
    sender.send(
      `{"type":"send","room_id":"${room.id}","client_message_id":"sur-1","body":"a\\ud800b \\udc00 😀","attachments":[{"id":"f","url":"https://x.example/f","mime":"text/plain","size":1,"name":"n\\udfff.txt"}]}`,
    );
    expect(await sender.takeType("ack")).toMatchObject({ seq: 1 });
    const got = await live.takeType("message");
    expect(got.body).toBe("a\ufffdb \ufffd 😀");
    expect(got.attachments[0].name).toBe("n\ufffd.txt");
    const replay = await openStream(edge, b, room.id, { device: "other", afterSeq: 0, waitSynced: false });
    const replayRaw = rawMessages(replay);
    await replay.takeType("message");
    // the same bytes live and replayed (the raw frames, not just the parsed strings)
    expect(replayRaw).toHaveLength(1);
    expect(liveRaw[0]).toBe(replayRaw[0]);
    expect(liveRaw[0]).not.toMatch(/\\ud[89a-f]/i);
    const page = await call(edge, "GET", `/v1/rooms/${room.id}/messages?after_seq=0`, { token: b.token });
    expect(page.body.messages[0].body).toBe(got.body);
    await Promise.all([sender.close(), live.close(), replay.close()]);
  });
});

describe("mention_all", () => {
  const send = (s: TestSocket, roomId: string, cmid: string) =>
    s.send({ type: "send", room_id: roomId, client_message_id: cmid, body: "all of you", mention_all: true });
  const answer = (s: TestSocket, cmid: string) =>
    s.take((f) => (f.type === "ack" && f.client_message_id === cmid) || (f.type === "error" && f.ref === cmid));

  it("is refused for a plain member and allowed for the owner and an admin", async () => {
    const [owner, admin, member] = (await people(3)) as [Seeded, Seeded, Seeded];
    const room = await group(edge, owner, [admin, member]);
    const patched = await call(edge, "PATCH", `/v1/rooms/${room.id}/members/${admin.id}`, {
      token: owner.token,
      body: { role: "admin" },
    });
    expect(patched.status).toBe(200);
    const [so, sa, sm] = await Promise.all([owner, admin, member].map((u) => openStream(edge, u, room.id)));
    send(sm!, room.id, "m-1");
    expect(await answer(sm!, "m-1")).toMatchObject({ type: "error", code: "forbidden" });
    send(so!, room.id, "o-1");
    expect(await answer(so!, "o-1")).toMatchObject({ type: "ack", seq: 1 });
    send(sa!, room.id, "a-1");
    expect(await answer(sa!, "a-1")).toMatchObject({ type: "ack", seq: 2 });
    // only the two allowed messages exist, both with mention_all
    const page = await call(edge, "GET", `/v1/rooms/${room.id}/messages?after_seq=0`, { token: member.token });
    expect(page.body.messages.map((m: { mention_all: boolean }) => m.mention_all)).toEqual([true, true]);
    // a plain message from the member still goes through
    sm!.send({ type: "send", room_id: room.id, client_message_id: "m-2", body: "hi" });
    expect(await answer(sm!, "m-2")).toMatchObject({ type: "ack", seq: 3 });
    await Promise.all([so, sa, sm].map((s) => s!.close()));
  });

  it("follows the room's role rows: granting it to members takes effect with the next membership push", async () => {
    const [owner, member, newcomer] = (await people(3)) as [Seeded, Seeded, Seeded];
    const room = await group(edge, owner, [member]);
    await db().query(`update chat_room_roles set can_mention_all = true where room_id = $1 and role = 1`, [room.id]);
    // adding a member pushes a fresh snapshot to the room
    const added = await call(edge, "POST", `/v1/rooms/${room.id}/members`, {
      token: owner.token,
      body: { user_ids: [newcomer.id] },
    });
    expect(added.status, JSON.stringify(added.body)).toBeLessThan(300);
    const sm = await openStream(edge, member, room.id);
    send(sm, room.id, "m-1");
    expect(await answer(sm, "m-1")).toMatchObject({ type: "ack" });
    await sm.close();
  });
});
