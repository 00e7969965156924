// Who may use a room's stream, and what bad frames do (nothing but an error frame).
import { describe, expect, it } from "vitest";
import { call } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";
import { TestSocket, openStream, sleep, ticket, upgradeUrl } from "../../test/support/sockets.js";
import { NOT_A_ROOM, direct, group, people, type Seeded } from "../../test/support/rooms.js";

const edge = useEdge({ SEND_BURST: "5", SEND_RATE_PER_SECOND: "1", TYPING_INTERVAL_MS: "1000" });

const lastSeq = async (user: Seeded, roomId: string) => {
  const res = await call(edge, "GET", `/v1/rooms/${roomId}/messages?limit=1`, { token: user.token });
  return res.body.messages[0]?.seq ?? 0;
};

describe("membership", () => {
  it("refuses non-members a ticket, a stream and history", async () => {
    const [a, b, outsider] = (await people(3)) as [Seeded, Seeded, Seeded];
    const room = await direct(edge, a, b);
    await expect(ticket(edge, outsider.token, "d", room.id)).rejects.toMatchObject({ status: 403 });
    await expect(ticket(edge, outsider.token, "d", NOT_A_ROOM)).rejects.toMatchObject({ status: 404 });
    expect((await call(edge, "GET", `/v1/rooms/${room.id}/messages`, { token: outsider.token })).status).toBe(403);
    expect((await call(edge, "GET", `/v1/rooms/${NOT_A_ROOM}/messages`, { token: outsider.token })).status).toBe(404);
    // a ticket for one room does not open another
    const other = await direct(edge, outsider, a);
    const t = await ticket(edge, outsider.token, "d", other.id);
    await expect(TestSocket.open(upgradeUrl(edge, `/v1/rooms/${room.id}/stream?ticket=${t}`))).rejects.toMatchObject({
      status: 401,
    });
  });

  it("closes a removed member's stream and refuses their sends from the moment the API answers", async () => {
    const [owner, m, other] = (await people(3)) as [Seeded, Seeded, Seeded];
    const room = await group(edge, owner, [m, other]);
    const sm = await openStream(edge, m, room.id);
    // a ticket taken while still a member
    const spare = await ticket(edge, m.token, "spare", room.id);
    const removedAt = Date.now();
    expect((await call(edge, "DELETE", `/v1/rooms/${room.id}/members/${m.id}`, { token: owner.token })).status).toBe(
      204,
    );
    const closed = await sm.closed;
    expect(closed.code).toBe(4003);
    // the standard close event, not only the close frame, within a second of the API call
    expect(sm.closedAt! - removedAt).toBeLessThan(1000);
    expect(sm.closeLagMs()).toBeLessThan(1000);
    await expect(
      TestSocket.open(upgradeUrl(edge, `/v1/rooms/${room.id}/stream?ticket=${spare}`)),
    ).rejects.toMatchObject({ status: 403 });
    expect((await call(edge, "GET", `/v1/rooms/${room.id}/messages`, { token: m.token })).status).toBe(403);
    expect(await lastSeq(owner, room.id)).toBe(0);
  });

  it("refuses a send racing the removal (the stream was open, the member is gone)", async () => {
    const [owner, m] = (await people(2)) as [Seeded, Seeded];
    const room = await group(edge, owner, [m]);
    const sm = await openStream(edge, m, room.id);
    const removal = call(edge, "DELETE", `/v1/rooms/${room.id}/members/${m.id}`, { token: owner.token });
    expect((await removal).status).toBe(204);
    try {
      sm.send({ type: "send", room_id: room.id, client_message_id: "late", body: "after removal" });
    } catch {
      // the socket may already be closed: that is a refusal too
    }
    await sm.closed;
    expect(await lastSeq(owner, room.id)).toBe(0);
  });

  it("shuts a direct room when one side blocks the other", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const sa = await openStream(edge, a, room.id);
    const sb = await openStream(edge, b, room.id);
    expect((await call(edge, "PATCH", `/v1/friends/${b.id}`, { token: a.token, body: { blocked: true } })).status).toBe(
      200,
    );
    expect((await sb.closed).code).toBe(4003);
    expect(sb.closeLagMs()).toBeLessThan(1000);
    sa.send({ type: "send", room_id: room.id, client_message_id: "x", body: "hello?" });
    expect(await sa.takeType("error")).toMatchObject({ code: "forbidden", ref: "x" });
    expect((await call(edge, "GET", `/v1/rooms/${room.id}/messages`, { token: b.token })).status).toBe(403);
    // lifting the block opens it again
    expect(
      (await call(edge, "PATCH", `/v1/friends/${b.id}`, { token: a.token, body: { blocked: false } })).status,
    ).toBe(200);
    sa.send({ type: "send", room_id: room.id, client_message_id: "y", body: "hello again" });
    expect(await sa.take((f) => f.type === "ack" && f.client_message_id === "y")).toMatchObject({ seq: 1 });
    await sa.close();
  });

  it("lets a member who joins later see messages from their joining on", async () => {
    const [owner, early, late] = (await people(3)) as [Seeded, Seeded, Seeded];
    const room = await group(edge, owner, [early]);
    const so = await openStream(edge, owner, room.id);
    for (const c of ["one", "two"]) {
      so.send({ type: "send", room_id: room.id, client_message_id: c, body: c });
      await so.take((f) => f.type === "ack" && f.client_message_id === c);
    }
    expect(
      (await call(edge, "POST", `/v1/rooms/${room.id}/members`, { token: owner.token, body: { user_ids: [late.id] } }))
        .status,
    ).toBe(200);
    so.send({ type: "send", room_id: room.id, client_message_id: "three", body: "three" });
    await so.take((f) => f.type === "ack" && f.client_message_id === "three");
    const sl = await openStream(edge, late, room.id, { afterSeq: 0, waitSynced: false });
    await sl.takeType("synced");
    expect(sl.seen("message").map((m) => m.body)).toEqual(["three"]);
    const page = await call(edge, "GET", `/v1/rooms/${room.id}/messages`, { token: late.token });
    expect(page.body.messages.map((m: { body: string }) => m.body)).toEqual(["three"]);
    await Promise.all([so.close(), sl.close()]);
  });
});

describe("bad frames", () => {
  it("answers every malformed frame with an error and changes nothing", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const other = await direct(edge, a, (await people(1))[0]!);
    const s = await openStream(edge, a, room.id);
    const base = { type: "send", room_id: room.id, client_message_id: "bad" };
    const cases: Array<[string, string | Buffer, string]> = [
      ["bad JSON", "{not json", "invalid"],
      ["binary", Buffer.from([1, 2, 3]), "invalid"],
      ["unknown type", JSON.stringify({ type: "shout", room_id: room.id }), "invalid"],
      ["missing fields", JSON.stringify({ type: "send", room_id: room.id }), "invalid"],
      ["wrong types", JSON.stringify({ ...base, body: 42 }), "invalid"],
      ["unknown field", JSON.stringify({ ...base, body: "x", admin: true }), "invalid"],
      ["over 64 KiB", JSON.stringify({ ...base, body: "x".repeat(70_000) }), "too_large"],
      ["4,001 code points", JSON.stringify({ ...base, body: "😀".repeat(4001) }), "invalid"],
      ["over 16 KiB of UTF-8", JSON.stringify({ ...base, body: "😀".repeat(4100) }), "invalid"],
      [
        "101 mentions",
        JSON.stringify({ ...base, body: "x", mentions: Array.from({ length: 101 }, () => b.id) }),
        "invalid",
      ],
      [
        "11 attachments",
        JSON.stringify({
          ...base,
          body: "x",
          attachments: Array.from({ length: 11 }, (_, i) => ({
            id: `${i}`,
            url: "https://f.example/x",
            mime: "text/plain",
            size: 1,
            name: "x",
          })),
        }),
        "invalid",
      ],
      ["a foreign room id", JSON.stringify({ ...base, room_id: other.id, body: "x" }), "invalid"],
      ["reply to the future", JSON.stringify({ ...base, body: "x", reply_to_seq: 99 }), "invalid"],
      ["read of a foreign room", JSON.stringify({ type: "read", room_id: other.id, seq: 1 }), "invalid"],
    ];
    for (const [name, raw, code] of cases) {
      s.send(raw);
      const err = await s.takeType("error");
      expect(err.code, name).toBe(code);
      expect(err.message.length, name).toBeGreaterThan(0);
    }
    expect(s.isClosed).toBe(false);
    expect(await lastSeq(a, room.id)).toBe(0);
    expect(await lastSeq(a, other.id)).toBe(0);
    // the connection still works
    s.send({ ...base, client_message_id: "good", body: "fine" });
    expect(await s.take((f) => f.type === "ack")).toMatchObject({ client_message_id: "good", seq: 1 });
    await s.close();
  });

  it("closes a socket that keeps sending garbage", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const s = await openStream(edge, a, room.id);
    for (let i = 0; i < 25; i++) s.send("garbage");
    expect((await s.closed).code).toBe(1008);
    expect(s.closeLagMs()).toBeLessThan(1000);
  });

  it("rate-limits a sender: over the bucket nothing is stored and the error says when to retry", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const s = await openStream(edge, a, room.id);
    for (let i = 0; i < 8; i++) s.send({ type: "send", room_id: room.id, client_message_id: `r${i}`, body: "spam" });
    const acks = await s.takeN("ack", 5);
    const errors = await s.takeN("error", 3);
    expect(acks.map((x) => x.seq)).toEqual([1, 2, 3, 4, 5]);
    for (const e of errors) {
      expect(e.code).toBe("rate_limited");
      expect(e.retry_after_ms).toBeGreaterThan(0);
    }
    expect(await lastSeq(a, room.id)).toBe(5);
    await s.close();
  });
});

describe("reads and typing", () => {
  it("moves read_seq forward only, clamped to the last seq, and tells the room", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const sa = await openStream(edge, a, room.id);
    const sb = await openStream(edge, b, room.id);
    for (const c of ["1", "2", "3"]) sa.send({ type: "send", room_id: room.id, client_message_id: c, body: c });
    await sa.takeN("ack", 3);
    sb.send({ type: "read", room_id: room.id, seq: 99 });
    expect(await sa.take((f) => f.type === "receipt" && f.read_seq !== undefined)).toMatchObject({
      user_id: b.id,
      read_seq: 3,
    });
    sb.send({ type: "read", room_id: room.id, seq: 1 }); // backwards: ignored
    await sleep(150);
    expect(sa.seen("receipt").filter((f) => f.read_seq !== undefined)).toHaveLength(0);
    const list = await call(edge, "GET", "/v1/rooms", { token: b.token });
    expect(list.body.rooms.find((r: { room: { id: string } }) => r.room.id === room.id)).toMatchObject({
      read_seq: 3,
      unread_count: 0,
      last_message: { seq: 3, body: "3" },
    });
    // a sent all three: sending is reading, so nothing is unread for a either
    const listA = await call(edge, "GET", "/v1/rooms", { token: a.token });
    expect(listA.body.rooms.find((r: { room: { id: string } }) => r.room.id === room.id)).toMatchObject({
      read_seq: 3,
      unread_count: 0,
    });
    await Promise.all([sa.close(), sb.close()]);
  });

  it("relays typing to the other streams, never stored, at most once per interval", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const sa = await openStream(edge, a, room.id);
    const sb = await openStream(edge, b, room.id);
    for (let i = 0; i < 5; i++) sa.send({ type: "typing", room_id: room.id });
    expect(await sb.takeType("typing")).toMatchObject({ room_id: room.id, user_id: a.id });
    await sleep(200);
    expect(sb.seen("typing")).toHaveLength(0);
    expect(sa.seen("typing")).toHaveLength(0);
    expect(await lastSeq(a, room.id)).toBe(0);
    await Promise.all([sa.close(), sb.close()]);
  });
});

describe("history", () => {
  it("pages newest-first before a seq and oldest-first after one, refusing bad queries", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const s = await openStream(edge, a, room.id);
    for (let i = 1; i <= 5; i++) s.send({ type: "send", room_id: room.id, client_message_id: `h${i}`, body: `m${i}` });
    await s.takeN("ack", 5);
    const get = (q: string) => call(edge, "GET", `/v1/rooms/${room.id}/messages${q}`, { token: b.token });
    const newest = await get("?limit=2");
    expect(newest.body).toMatchObject({ has_more: true });
    expect(newest.body.messages.map((m: { seq: number }) => m.seq)).toEqual([5, 4]);
    expect((await get("?before_seq=4&limit=10")).body.messages.map((m: { seq: number }) => m.seq)).toEqual([3, 2, 1]);
    const after = await get("?after_seq=2&limit=2");
    expect(after.body.messages.map((m: { seq: number }) => m.seq)).toEqual([3, 4]);
    expect(after.body.has_more).toBe(true);
    for (const bad of ["?limit=101", "?limit=0", "?before_seq=x", "?before_seq=2&after_seq=1", "?sort=asc"])
      expect((await get(bad)).status, bad).toBe(400);
    await s.close();
  });
});
