// A full group: 1,000 members, every one with the room's stream open, each message reaching
// every stream exactly once, in order.
import { describe, expect, it } from "vitest";
import { useEdge } from "../../test/support/edge.js";
import { mapLimit } from "../../lib/parallel/index.js";
import { eventually, openSession, openStream, sleep, type TestSocket } from "../../test/support/sockets.js";
import { group, people, type Seeded } from "../../test/support/rooms.js";

// opening 1,000 streams can take past a minute on a loaded machine, and this client does not ping
const edge = useEdge({ SILENT_SOCKET_SECONDS: "600" });

describe("a 1,000-member group", () => {
  it("delivers each message to every open stream exactly once, and receipts come coalesced", async () => {
    const users = (await people(1000)) as Seeded[];
    const [owner, ...rest] = users as [Seeded, ...Seeded[]];
    const room = await group(edge, owner, rest, "everyone");
    const opened = await mapLimit(users, 25, (u) => openStream(edge, u, room.id));
    const streams = opened.filter((s): s is TestSocket => !(s instanceof Error));
    expect(opened.filter((s) => s instanceof Error).map(String)).toEqual([]);
    expect(streams).toHaveLength(1000);

    // one member also has a phone with no stream: above 100 members its activity is coalesced
    const phoneOwner = users[7]!;
    const phone = await openSession(edge, phoneOwner, "phone");
    const roomNs = await edge.mf.getDurableObjectNamespace("CHAT_ROOM");
    await eventually(
      async () =>
        (
          await (
            roomNs.get(roomNs.idFromName(room.id)) as unknown as { inspect(): Promise<{ subscribed: string[] }> }
          ).inspect()
        ).subscribed.includes(phoneOwner.id),
      10_000,
    );

    const senders = [streams[0]!, streams[500]!, streams[999]!];
    const cmids = senders.map((s, i) => {
      const cmid = `big-${i}`;
      s.send({
        type: "send",
        room_id: room.id,
        client_message_id: cmid,
        body: `to everyone ${i}`,
        mention_all: i === 0,
      });
      return cmid;
    });
    for (const [i, s] of senders.entries()) await s.take((f) => f.type === "ack" && f.client_message_id === cmids[i]);
    await Promise.all(
      streams
        .map((s) => s.takeN("message", 3, 20_000))
        .map((p, i) =>
          p.then((msgs) => {
            expect(
              msgs.map((m) => m.seq),
              `stream ${i}`,
            ).toEqual([1, 2, 3]);
          }),
        ),
    );
    await sleep(300);
    for (const s of streams) expect(s.seen("message")).toHaveLength(0); // nothing twice
    // over 100 members: delivered offsets reach the sender as one coalesced `receipts` frame
    const receipts = await senders[0]!.take(
      (f) => f.type === "receipts" && f.offsets.some((o: { delivered_seq?: number }) => o.delivered_seq !== undefined),
      5000,
    );
    expect(receipts.offsets.length).toBeGreaterThanOrEqual(999);
    expect(senders[0]!.seen("receipt")).toHaveLength(0);
    // three messages within a second: one activity, carrying the latest
    const activity = await phone.takeType("activity", 5000);
    expect(activity).toMatchObject({ room_id: room.id, last_seq: 3, message: { seq: 3 } });
    await sleep(1500);
    expect(phone.seen("activity")).toHaveLength(0);
    await phone.close();
    await mapLimit(streams, 100, (s) => s.close());
  }, 120_000);
});
