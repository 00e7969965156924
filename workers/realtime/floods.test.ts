// Socket and frame floods through the public API: the caps on sockets per user and per device,
// and each socket's frame budget.
import { describe, expect, it } from "vitest";
import { useEdge } from "../../test/support/edge.js";
import { TestSocket, eventually, openSession, openStream, sleep } from "../../test/support/sockets.js";
import { group, people, type Seeded } from "../../test/support/rooms.js";

const edge = useEdge({ FRAME_RATE_PER_SECOND: "10", FRAME_BURST: "20" });

const TOO_MANY = 4007;

async function tryOpen(user: Seeded, roomId: string, device: string): Promise<TestSocket> {
  return openStream(edge, user, roomId, { device, waitSynced: false });
}

describe("socket caps", () => {
  it("gives a user who opens 40 streams to one room at most 20, and tells the rest why", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await group(edge, a, [b]);
    // 10 devices × 4: within the per-device cap, twice the per-user cap
    const sockets = await Promise.all(Array.from({ length: 40 }, (_, i) => tryOpen(a, room.id, `dev-${i % 10}`)));
    await eventually(async () => sockets.every((s) => s.seen("synced").length > 0 || s.isClosed));
    const refused = sockets.filter((s) => s.isClosed);
    const open = sockets.filter((s) => !s.isClosed);
    expect(open).toHaveLength(20);
    expect(refused).toHaveLength(20);
    for (const s of refused) {
      expect((await s.closed).code).toBe(TOO_MANY);
      expect(s.seen("error")[0]).toMatchObject({ code: "rate_limited" });
      expect(s.seen("synced")).toHaveLength(0); // no replay for a refused stream
    }
    // the held streams still work, and another member is not affected
    for (const s of open) expect(s.seen("synced")).toHaveLength(1);
    const peer = await openStream(edge, b, room.id);
    // closing one frees a slot
    await open[0]!.close();
    await eventually(async () => {
      const again = await tryOpen(a, room.id, "dev-0");
      await eventually(async () => again.seen("synced").length > 0 || again.isClosed);
      if (again.isClosed) return false;
      await again.close();
      return true;
    });
    await Promise.all([peer, ...open].map((s) => s.close()));
  });

  it("caps the streams of one device, and the session sockets of one device", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await group(edge, a, [b]);
    const streams: TestSocket[] = [];
    for (let i = 0; i < 5; i++) streams.push(await tryOpen(a, room.id, "phone"));
    await eventually(async () => streams[4]!.isClosed);
    expect((await streams[4]!.closed).code).toBe(TOO_MANY);
    expect(streams.slice(0, 4).every((s) => !s.isClosed)).toBe(true);
    const sessions: TestSocket[] = [];
    for (let i = 0; i < 5; i++) sessions.push(await openSession(edge, a, "phone"));
    expect((await sessions[4]!.closed).code).toBe(TOO_MANY);
    expect(sessions.slice(0, 4).every((s) => !s.isClosed)).toBe(true);
    await Promise.all([...streams, ...sessions].map((s) => s.close()));
  });
});

describe("frame budget", () => {
  it("rate-limits a flood of pings with an id and of reads, then closes a socket that keeps on", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await group(edge, a, [b]);
    const s = await openStream(edge, a, room.id);
    for (let i = 0; i < 30; i++) s.send({ type: "ping", id: `p${i}` });
    await eventually(async () => s.seen("pong").length + s.seen("error").length >= 30);
    // the burst (20) is answered, the rest refused with how long to wait
    expect(s.seen("pong").length).toBeGreaterThanOrEqual(20);
    expect(s.seen("pong").length).toBeLessThan(25);
    const limited = s.seen("error");
    expect(limited.length).toBeGreaterThan(5);
    expect(limited[0]).toMatchObject({ code: "rate_limited" });
    expect(limited[0]!.retry_after_ms).toBeGreaterThan(0);
    // reads spend from the same budget; a socket that ignores retry_after_ms is closed (1008)
    for (let i = 0; i < 60; i++) s.send({ type: "read", room_id: room.id, seq: 0 });
    expect((await s.closed).code).toBe(1008);
    // a well-behaved socket of the same user is unaffected
    const calm = await openStream(edge, a, room.id, { device: "calm" });
    for (let i = 0; i < 5; i++) {
      calm.send({ type: "ping", id: `c${i}` });
      await sleep(120);
    }
    await calm.takeN("pong", 5);
    expect(calm.seen("error")).toHaveLength(0);
    await calm.close();
  });
});
