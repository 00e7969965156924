// Resuming past what the replay carries (an edge with the smallest replay byte budget): the stream
// replays the newest messages that fit and says has_more; the SDK pages the range before them over
// HTTP and delivers everything once, in seq order, before anything after it.
import { describe, expect, it } from "vitest";
import type { Message } from "./index.js";
import { PASSWORD, chatClient, signedUp, until, useEdgeBehindProxy } from "../test/support/chat-clients.js";

const stack = useEdgeBehindProxy({
  REPLAY_BURST_BYTES: String(64 * 1024),
  REPLAY_BYTES_PER_SECOND: "1024",
  SEND_RATE_PER_SECOND: "1000",
  SEND_BURST: "1000",
});
const edge = stack.edge;
const open = stack.open;

const big = (i: number) => `${i} `.padEnd(3000, "x");
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("a replay that does not reach back to after_seq", () => {
  it("pages the missing range over HTTP before delivering the replayed and live messages", async () => {
    const a = await signedUp(stack.proxy.url);
    const b = await signedUp(edge.url);
    open.push(a.chat, b.chat);
    const ra = await a.chat.openDirect(b.user.id);
    const rb = await b.chat.openRoom(ra.id);
    const got: Message[] = [];
    const gaps: Array<{ from: number; to: number; reason: string }> = [];
    ra.on("message", (m) => got.push(m));
    ra.on("gap", (g) => gaps.push(g));
    await ra.send({ body: "before the outage" });
    await until(() => got.length === 1, 5000, "A has its own message");

    stack.proxy.block(true);
    stack.proxy.cut();
    await until(() => ra.state === "reconnecting", 5000, "A is away");
    await Promise.all(range(2, 41).map((i) => rb.send({ body: big(i) })));
    stack.proxy.block(false);
    await until(() => got.length === 41, 20_000, "A has all 41");
    const live = await rb.send({ body: "live after the resume" });
    await until(() => got.length === 42, 5000, "and the live one");

    expect(got.map((m) => m.seq)).toEqual(range(1, 42));
    expect(got[41]).toMatchObject({ seq: live.seq, body: "live after the resume" });
    expect(got.slice(1, 41).map((m) => m.body.split(" ")[0])).toEqual(range(2, 41).map(String));
    // the replay carried only the newest that fit: the rest came over HTTP, announced as a gap
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ from: 2, reason: "replay" });
    expect(gaps[0]!.to).toBeGreaterThan(2);
    expect(gaps[0]!.to).toBeLessThan(41);
  }, 60_000);

  it("a device new to the room starts at what the replay brings; history() pages what came before", async () => {
    const a = await signedUp(edge.url);
    const b = await signedUp(edge.url);
    open.push(a.chat, b.chat);
    const rb = await b.chat.openDirect(a.user.id);
    await Promise.all(range(1, 40).map((i) => rb.send({ body: big(i) })));
    const phone = chatClient(edge.url);
    open.push(phone);
    await phone.login({ handle: a.handle, password: PASSWORD });
    const room = phone.room(rb.id);
    const gaps: unknown[] = [];
    const got: Message[] = [];
    room.on("gap", (g) => gaps.push(g));
    room.on("message", (m) => got.push(m));
    await room.ready;
    expect(gaps).toEqual([]);
    expect(got.length).toBeGreaterThan(0);
    expect(got.at(-1)!.seq).toBe(40);
    const first = got[0]!.seq;
    expect(first).toBeGreaterThan(1); // the replay did not carry them all
    expect(got.map((m) => m.seq)).toEqual(range(first, 40));
    // older pages, newest first, join what the room holds
    let page = await room.history({ limit: 100 });
    while (page.has_more) page = await room.history({ limit: 100 });
    expect(room.messages().map((m) => m.seq)).toEqual(range(1, 40));
    expect(got).toHaveLength(40 - first + 1); // history is not delivered as new messages
  }, 60_000);
});
