// Room streams end to end: real workerd, real PostgreSQL, real WebSockets from this process.
import { describe, expect, it } from "vitest";
import { call } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";
import {
  TestSocket,
  eventually,
  openStream,
  sleep,
  ticket,
  upgradeUrl,
  type Frame,
} from "../../test/support/sockets.js";
import { direct, group, people, type Seeded } from "../../test/support/rooms.js";

const edge = useEdge({
  SEND_BURST: "1000",
  SEND_RATE_PER_SECOND: "1000",
  FRAME_BURST: "1000",
  FRAME_RATE_PER_SECOND: "1000",
});

let n = 0;
const send = (s: TestSocket, roomId: string, extra: Record<string, unknown> = {}) => {
  const client_message_id = `c-${Date.now().toString(36)}-${++n}`;
  s.send({ type: "send", room_id: roomId, client_message_id, body: `hello ${n}`, ...extra });
  return client_message_id;
};
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const ackFor = (s: TestSocket, cmid: string) => s.take((f) => f.type === "ack" && f.client_message_id === cmid);
const history = (user: Seeded, roomId: string, q = "") =>
  call(edge, "GET", `/v1/rooms/${roomId}/messages${q}`, { token: user.token });

describe("sending on a stream", () => {
  it("stores, acks and broadcasts to every stream of the room, the sender's other devices included", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const aPhone = await openStream(edge, a, room.id, { device: "phone" });
    const aLaptop = await openStream(edge, a, room.id, { device: "laptop" });
    const bPhone = await openStream(edge, b, room.id);
    const cmid = send(aPhone, room.id, {
      mentions: [b.id],
      reply_to_seq: undefined,
      attachments: [{ id: "f1", url: "https://files.example/f1", mime: "image/png", size: 10, name: "cat.png" }],
    });
    const ack = await ackFor(aPhone, cmid);
    expect(ack).toMatchObject({ room_id: room.id, seq: 1, client_message_id: cmid });
    expect(ack.message_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ack.duplicate).toBeUndefined();
    for (const s of [aPhone, aLaptop, bPhone]) {
      const m = await s.takeType("message");
      expect(m).toMatchObject({
        seq: 1,
        sender_id: a.id,
        client_message_id: cmid,
        mentions: [b.id],
        mention_all: false,
        message_id: ack.message_id,
        created_at: ack.created_at,
      });
      expect(m.attachments).toEqual([
        { id: "f1", url: "https://files.example/f1", mime: "image/png", size: 10, name: "cat.png" },
      ]);
    }
    // the peer's stream counts as delivered, reported to the sender only
    expect(await aPhone.take((f) => f.type === "receipt" && f.user_id === b.id)).toMatchObject({ delivered_seq: 1 });
    await Promise.all([aPhone.close(), aLaptop.close(), bPhone.close()]);
  });

  it("packs a replay and a commit's frames into one message for a stream opened with batch=1, and never for one without", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const plainSender = await openStream(edge, a, room.id, { device: "plain" });
    const sent = Array.from({ length: 30 }, () => send(plainSender, room.id));
    for (const c of sent) await ackFor(plainSender, c);

    // the replay: 30 messages and `synced` in one WebSocket message, or 31 of them
    const packed = await openStream(edge, b, room.id, { afterSeq: 0, batch: true, device: "packed" });
    const plain = await openStream(edge, b, room.id, { afterSeq: 0, device: "plain" });
    expect([packed.messages, packed.arrays]).toEqual([1, 1]);
    expect([plain.messages, plain.arrays]).toEqual([31, 0]);
    for (const s of [packed, plain]) expect((await s.takeN("message", 30)).map((m) => m.seq)).toEqual(range(1, 30));

    // a send: its sender's batch stream hears the message and its ack in one message, in that order
    const before = packed.messages;
    const cmid = send(packed, room.id);
    const ack = await ackFor(packed, cmid);
    expect(ack.seq).toBe(31);
    expect([packed.messages - before, packed.arrays]).toEqual([1, 2]);
    expect((await packed.takeType("message")).seq).toBe(31);
    expect((await plain.takeType("message")).seq).toBe(31);
    expect(plain.arrays).toBe(0);
    await Promise.all([plainSender.close(), packed.close(), plain.close()]);
  });

  it("refuses a stream whose batch parameter is neither 0 nor 1", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const t = await ticket(edge, a.token, "dev-1", room.id);
    const url = upgradeUrl(edge, `/v1/rooms/${room.id}/stream?ticket=${t}&batch=yes`);
    await expect(TestSocket.open(url)).rejects.toMatchObject({ status: 400 });
    // the ticket was not spent on the refused upgrade
    const ok = await TestSocket.open(upgradeUrl(edge, `/v1/rooms/${room.id}/stream?ticket=${t}&batch=1`));
    expect((await ok.takeType("synced")).last_seq).toBe(0);
    await ok.close();
  });

  it("gives concurrent senders gap-free increasing seqs, in order on every stream", async () => {
    const users = (await people(5)) as Seeded[];
    const room = await group(edge, users[0]!, users.slice(1));
    const watcher = await openStream(edge, users[0]!, room.id, { device: "watch" });
    const senders = await Promise.all(users.map((u) => openStream(edge, u, room.id)));
    const perSender = 40;
    const cmids = senders.map((s) => Array.from({ length: perSender }, () => send(s, room.id)));
    const acks = await Promise.all(senders.map((s, i) => Promise.all(cmids[i]!.map((c) => ackFor(s, c)))));
    const seqs = acks
      .flat()
      .map((a) => a.seq)
      .sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: users.length * perSender }, (_, i) => i + 1));
    // each sender's own messages keep the order it sent them in
    for (const list of acks) expect(list.map((a) => a.seq)).toEqual([...list.map((a) => a.seq)].sort((x, y) => x - y));
    const got = await watcher.takeN("message", users.length * perSender);
    expect(got.map((m) => m.seq)).toEqual(seqs);
    await Promise.all([watcher, ...senders].map((s) => s.close()));
  });

  it("answers a retried send with the original ack and delivers it once", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const sa = await openStream(edge, a, room.id);
    const sb = await openStream(edge, b, room.id);
    const frame = { type: "send", room_id: room.id, client_message_id: "retry-me", body: "once" };
    sa.send(frame);
    sa.send(frame); // same turn: same batch
    const [first, second] = [await ackFor(sa, "retry-me"), await ackFor(sa, "retry-me")];
    await sleep(50);
    sa.send(frame); // later, a batch of its own
    const third = await ackFor(sa, "retry-me");
    expect(first.duplicate).toBeUndefined();
    for (const d of [second, third])
      expect(d).toMatchObject({
        seq: first.seq,
        message_id: first.message_id,
        created_at: first.created_at,
        duplicate: true,
      });
    // a retry over a new stream (a reconnect) is a duplicate too
    const sa2 = await openStream(edge, a, room.id, { device: "dev-2", afterSeq: 1 });
    sa2.send(frame);
    expect(await ackFor(sa2, "retry-me")).toMatchObject({ seq: first.seq, duplicate: true });
    await sleep(100);
    expect(sb.seen("message")).toHaveLength(1);
    expect((await history(a, room.id)).body.messages).toHaveLength(1);
    await Promise.all([sa.close(), sb.close(), sa2.close()]);
  });

  it("acks only what a reader can already see", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const sa = await openStream(edge, a, room.id);
    for (let i = 0; i < 10; i++) {
      const cmid = send(sa, room.id);
      const ack = await ackFor(sa, cmid);
      // another request, another turn of the object: the stored message must already be there
      const page = await history(b, room.id, "?limit=1");
      expect(page.body.messages[0]).toMatchObject({ seq: ack.seq, client_message_id: cmid });
    }
    await sa.close();
  });
});

describe("opening a stream", () => {
  it("replays after after_seq then goes live, with no gap and no duplicate while messages keep coming", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const sa = await openStream(edge, a, room.id);
    const total = 150;
    const sending = (async () => {
      for (let i = 0; i < total; i++) {
        send(sa, room.id);
        if (i % 5 === 0) await sleep(2);
      }
    })();
    await eventually(async () => sa.seen("ack").length >= 40);
    const late = await openStream(edge, b, room.id, { afterSeq: 10, waitSynced: false });
    await sending;
    const frames: Frame[] = [];
    await eventually(async () => {
      frames.splice(0, frames.length, ...late.frames.filter((f) => f.type === "message" || f.type === "synced"));
      return frames.filter((f) => f.type === "message").length >= total - 10;
    }, 10_000);
    const seqs = frames.filter((f) => f.type === "message").map((f) => f.seq);
    expect(seqs).toEqual(Array.from({ length: total - 10 }, (_, i) => i + 11));
    const synced = frames.findIndex((f) => f.type === "synced");
    expect(synced).toBeGreaterThan(0);
    expect(frames[synced]).toMatchObject({ has_more: false });
    expect(frames[synced]!.last_seq).toBe(frames[synced - 1]!.seq);
    await Promise.all([sa.close(), late.close()]);
  });

  it("replays at most 500 (the newest) and says there is more", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const sa = await openStream(edge, a, room.id);
    const cmids = Array.from({ length: 520 }, () => send(sa, room.id));
    await ackFor(sa, cmids.at(-1)!);
    const sb = await openStream(edge, b, room.id, { afterSeq: 0, waitSynced: false });
    const synced = await sb.takeType("synced");
    expect(synced).toMatchObject({ last_seq: 520, has_more: true });
    const replayed = sb.frames.filter((f) => f.type === "message").map((f) => f.seq);
    expect(replayed).toEqual(Array.from({ length: 500 }, (_, i) => i + 21));
    // the rest is one page away
    const page = await history(b, room.id, "?before_seq=21&limit=100");
    expect(page.body.messages.map((m: { seq: number }) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => 20 - i));
    expect(page.body.has_more).toBe(false);
    await Promise.all([sa.close(), sb.close()]);
  });
});
