// The outbox under the room's send limit (an edge with a low SEND_RATE_PER_SECOND): refusals
// `rate_limited` are waited out for retry_after_ms and resent, in order, and nothing fails.
import { afterEach, describe, expect, it } from "vitest";
import type { ChatClient, Message, SendAck } from "./index.js";
import { useEdge } from "../test/support/edge.js";
import { signedUp, until } from "../test/support/chat-clients.js";

const edge = useEdge({ SEND_RATE_PER_SECOND: "2", SEND_BURST: "2" });
const open: ChatClient[] = [];
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

describe("sending past the room's rate limit", () => {
  it("waits retry_after_ms and resends: eight messages at 2/s all arrive, in order, none failed", async () => {
    const a = await signedUp(edge.url);
    const b = await signedUp(edge.url);
    open.push(a.chat, b.chat);
    const room = await a.chat.openDirect(b.user.id);
    const rb = await b.chat.openRoom(room.id);
    const got: Message[] = [];
    rb.on("message", (m) => got.push(m));
    const failed: string[] = [];
    room.on("failed", ({ error }) => failed.push(error.code));

    const started = Date.now();
    const acks: SendAck[] = await Promise.all(Array.from({ length: 8 }, (_, i) => room.send({ body: `m${i}` })));
    const took = Date.now() - started;
    expect(acks.map((x) => x.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // a burst of 2, then 6 more at 2 per second: about three seconds, however the waits fall
    expect(took).toBeGreaterThanOrEqual(2500);
    expect(room.stats().rateLimitWaits).toBeGreaterThan(0);
    expect(failed).toEqual([]);
    await until(() => got.length === 8, 5000, "B has all eight");
    expect(got.map((m) => m.body)).toEqual(["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"]);
  }, 30_000);
});
