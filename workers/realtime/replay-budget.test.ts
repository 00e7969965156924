// Replay's memory bound through the public API: opens share one byte budget per room; an open
// past it replays what fits, says has_more, and the client pages the rest over HTTP.
import { describe, expect, it } from "vitest";
import { call } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";
import { openStream, type Frame, type TestSocket } from "../../test/support/sockets.js";
import { group, people, type Seeded } from "../../test/support/rooms.js";

const BUDGET = 256 * 1024;
const edge = useEdge({
  REPLAY_BURST_BYTES: String(BUDGET),
  REPLAY_BYTES_PER_SECOND: "1024",
  SEND_BURST: "1000",
  SEND_RATE_PER_SECOND: "1000",
});

describe("replay budget", () => {
  it("bounds the bytes many opens replay, keeps each replay the newest in order, and leaves the rest to paging", async () => {
    const [a, b, c] = (await people(3)) as [Seeded, Seeded, Seeded];
    const room = await group(edge, a, [b, c]);
    const sender = await openStream(edge, a, room.id, { device: "sender" });
    const body = "😀".repeat(4000); // 16 KB of UTF-8, the largest body there is
    for (let i = 1; i <= 40; i++) {
      sender.send({ type: "send", room_id: room.id, client_message_id: `big-${i}`, body });
      await sender.take((f) => f.type === "ack" && f.client_message_id === `big-${i}`);
    }
    const opens: TestSocket[] = [];
    const synced: Frame[] = [];
    for (let i = 0; i < 8; i++) {
      const s = await openStream(edge, i % 2 ? b : c, room.id, { device: `d${i}`, afterSeq: 0, waitSynced: false });
      synced.push(await s.takeType("synced"));
      opens.push(s);
    }
    let replayedBytes = 0;
    for (const [i, s] of opens.entries()) {
      const got = s.seen("message");
      const seqs = got.map((m) => m.seq);
      // a contiguous run of the newest messages, then synced with has_more (the oldest were left out)
      if (seqs.length) expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => 41 - seqs.length + i));
      expect(synced[i]).toMatchObject({ last_seq: 40, has_more: true });
      replayedBytes += got.reduce((n, m) => n + Buffer.byteLength(JSON.stringify(m)), 0);
    }
    // without the budget each open would replay all 40 (~650 KB each, ~5 MB in all)
    expect(opens[0]!.seen("message").length).toBeGreaterThan(8);
    expect(replayedBytes).toBeLessThan(BUDGET + 20_000);
    // live messages still reach every stream, after what it replayed
    sender.send({ type: "send", room_id: room.id, client_message_id: "live", body: "live" });
    for (const s of opens)
      expect(await s.take((f) => f.type === "message" && f.seq === 41)).toMatchObject({ body: "live" });
    // and HTTP paging yields what replay left out
    const page = await call(edge, "GET", `/v1/rooms/${room.id}/messages?after_seq=0&limit=100`, { token: b.token });
    expect(page.body.messages.map((m: { seq: number }) => m.seq)).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
    await Promise.all([sender, ...opens].map((s) => s.close()));
  });
});
