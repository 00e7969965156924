// The SDK over a network that fails: a TCP proxy between the clients and the real edge cuts every
// connection, freezes them, or refuses new ones, while the clients keep talking.
import { describe, expect, it } from "vitest";
import type { ChatClient, Message, OutboxItem, SendAck } from "./index.js";
import { memoryStorage } from "./index.js";
import { call } from "../test/support/api.js";
import { chatClient, signedUp, until, useEdgeBehindProxy } from "../test/support/chat-clients.js";

const stack = useEdgeBehindProxy();
const edge = stack.edge;
const open = stack.open;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A through the proxy; B through it too, or straight to the edge (to see what A missed). */
async function pair(aOptions = {}, bVia: "proxy" | "edge" = "proxy") {
  const a = await signedUp(stack.proxy.url, aOptions);
  const b = await signedUp(bVia === "proxy" ? stack.proxy.url : edge.url);
  open.push(a.chat, b.chat);
  const room = await a.chat.createDirect(b.user.id);
  return { a, b, room };
}

const seqsOf = (ms: Message[]) => ms.map((m) => m.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("the SDK through a proxy that cuts every connection", () => {
  it("two clients exchange 200 messages while every connection is cut five times: all 200 once each, in seq order, every send() resolved once", async () => {
    const { a, b, room } = await pair();
    const ra = await a.chat.openRoom(room.id);
    const rb = await b.chat.openRoom(room.id);
    const got = { a: [] as Message[], b: [] as Message[] };
    ra.on("message", (m) => got.a.push(m));
    rb.on("message", (m) => got.b.push(m));

    const acks = new Map<string, SendAck>();
    let resolutions = 0;
    let rejections = 0;
    const queued: Array<Promise<unknown>> = [];
    const bodies: Record<"a" | "b", string[]> = { a: [], b: [] };
    for (let i = 0; i < 100; i++) {
      for (const [side, r] of [
        ["a", ra],
        ["b", rb],
      ] as const) {
        const body = `${side}-${i}`;
        bodies[side].push(body);
        queued.push(
          r.send({ body }).then(
            (ack) => {
              resolutions++;
              expect(acks.has(ack.client_message_id)).toBe(false);
              acks.set(ack.client_message_id, ack);
            },
            () => rejections++,
          ),
        );
      }
    }
    const cuts: Array<{ cut: number; resolvedBefore: number }> = [];
    for (let k = 0; k < 5; k++) {
      await sleep(1200);
      cuts.push({ resolvedBefore: resolutions, cut: stack.proxy.cut() });
    }
    const settled = () => resolutions + rejections === 200 && got.a.length >= 200 && got.b.length >= 200;
    await until(settled, 60_000, "200 sends settled and 200 messages on both sides").catch((err: Error) => {
      const where = { resolutions, rejections, a: got.a.length, b: got.b.length, cuts };
      throw new Error(`${err.message}: ${JSON.stringify(where)} ${JSON.stringify([a.chat.stats(), b.chat.stats()])}`);
    });
    await Promise.all(queued);
    await sleep(500); // anything repeated would arrive now

    // the cuts happened while messages were still on their way, and each cut live connections
    expect(cuts.every((c) => c.cut > 0)).toBe(true);
    expect(cuts.at(-1)!.resolvedBefore).toBeLessThan(200);
    expect(ra.stats().opens).toBeGreaterThanOrEqual(6);

    expect(resolutions).toBe(200);
    expect(rejections).toBe(0);
    expect(new Set([...acks.values()].map((x) => x.seq)).size).toBe(200);
    for (const side of ["a", "b"] as const) {
      const ms = got[side];
      expect(seqsOf(ms)).toEqual(range(1, 200));
      expect(new Set(ms.map((m) => m.message_id)).size).toBe(200);
      // each message's seq and id are the ones its sender's ack promised
      for (const m of ms) expect(acks.get(m.client_message_id)).toMatchObject({ seq: m.seq, message_id: m.message_id });
      // FIFO per sender: each side's messages were stored in the order they were queued
      for (const sender of ["a", "b"] as const) {
        const id = sender === "a" ? a.user.id : b.user.id;
        expect(ms.filter((m) => m.sender_id === id).map((m) => m.body)).toEqual(bodies[sender]);
      }
    }
    expect(seqsOf(ra.messages())).toEqual(range(1, 200));
    // the room stored each message once: nothing resent was stored twice
    const page = await call(edge, "GET", `/v1/rooms/${room.id}/messages?after_seq=195`, {
      token: (await a.chat.rooms()).rooms.length ? await tokenOf(a.chat) : "",
    });
    expect(page.body.messages.map((m: Message) => m.seq)).toEqual([196, 197, 198, 199, 200]);
    expect(page.body.has_more).toBe(false);
    expect(ra.pending()).toEqual([]);
  }, 120_000);

  it("a silent connection (frozen, not closed) is found dead by the heartbeat and replaced; the replay brings what was missed", async () => {
    const { a, b, room } = await pair({ heartbeatMs: 500, pongTimeoutMs: 1500 }, "edge");
    const ra = await a.chat.openRoom(room.id);
    const rb = await b.chat.openRoom(room.id);
    const got: Message[] = [];
    ra.on("message", (m) => got.push(m));
    await until(() => a.chat.state === "open", 10_000, "session open");
    const gaps: unknown[] = [];
    ra.on("gap", (g) => gaps.push(g));
    expect(stack.proxy.freeze()).toBeGreaterThan(0);
    const ack = await rb.send({ body: "while you were away" });
    await until(() => got.length === 1, 10_000, "the message after the heartbeat replaced the socket");
    expect(got[0]).toMatchObject({ seq: ack.seq, body: "while you were away" });
    expect(ra.stats().opens).toBeGreaterThanOrEqual(2);
    expect(ra.stats().lastClose).toEqual({ code: 1006, reason: "no pong in time" });
    await until(() => (a.chat.stats().session?.opens ?? 0) >= 2, 5000, "session socket replaced");
    expect(gaps).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toHaveLength(1);
    stack.proxy.cut(); // the frozen ones
    await sleep(200); // and let this process's HTTP pool see its connections go
  }, 30_000);

  it("a reloaded client (a new one over the same storage) resends the pending outbox and reports each item once", async () => {
    const storage = memoryStorage();
    const { a, b, room } = await pair({ storage }, "edge");
    const ra = await a.chat.openRoom(room.id);
    const rb = await b.chat.openRoom(room.id);
    const bGot: Message[] = [];
    rb.on("message", (m) => bGot.push(m));

    // 1: stored by the room, but its ack (and everything else down) is lost
    stack.proxy.freeze("down");
    const lostAck = ra.send({ body: "one" }).catch((e: unknown) => e);
    await until(() => bGot.length === 1, 10_000, "B saw the first message");
    // 2-4 pending and one the room will refuse, queued while nothing gets through
    stack.proxy.block(true);
    stack.proxy.cut();
    const later = [
      ra.send({ body: "two" }),
      ra.send({ body: "three" }),
      ra.send({ body: "bad", reply_to_seq: 999 }),
      ra.send({ body: "four" }),
    ].map((p) => p.catch((e: unknown) => e));
    await until(() => ra.pending().length === 5, 5000, "five queued");
    a.chat.close(); // the page goes away
    for (const p of [lostAck, ...later]) expect(await p).toMatchObject({ code: "closed" });
    expect((await storage.entries("")).filter(([k]) => k.includes("outbox:")).length).toBe(5);
    stack.proxy.block(false);

    const again = chatClient(stack.proxy.url, { storage });
    open.push(again);
    expect(await again.restore()).toEqual(a.user);
    const ra2 = await again.openRoom(room.id);
    const sent: Array<{ item: OutboxItem; seq: number }> = [];
    const failed: Array<{ item: OutboxItem; code: string; cancel(): Promise<void> }> = [];
    ra2.on("sent", ({ item, ack }) => sent.push({ item, seq: ack.seq }));
    ra2.on("failed", ({ item, error, cancel }) => failed.push({ item, code: error.code, cancel }));
    await until(() => sent.length === 4 && failed.length === 1, 15_000, "four sent, one failed");
    await until(() => bGot.length === 4, 10_000, "B has four");
    await sleep(500);
    expect(sent.map((s) => (s.item.frame as { body: string }).body)).toEqual(["one", "two", "three", "four"]);
    expect(sent.map((s) => s.seq)).toEqual([1, 2, 3, 4]);
    expect(failed.map((f) => [(f.item.frame as { body: string }).body, f.code])).toEqual([["bad", "invalid"]]);
    expect(bGot.map((m) => [m.seq, m.body])).toEqual([
      [1, "one"],
      [2, "two"],
      [3, "three"],
      [4, "four"],
    ]);
    expect(ra2.pending().map((i) => [i.status, i.error?.code])).toEqual([["failed", "invalid"]]);
    await failed[0]!.cancel();
    expect(ra2.pending()).toEqual([]);
    expect((await storage.entries("")).filter(([k]) => k.includes("outbox:"))).toEqual([]);
  }, 60_000);

  it("a client waiting out a long backoff reconnects at once when the browser says it is online, or the page turns visible", async () => {
    // a browser's window and document (the DOM event API): the client listens on them from its sign-in on
    const g = globalThis as Record<string, unknown>;
    const window = new EventTarget();
    const document = Object.assign(new EventTarget(), { visibilityState: "hidden" });
    g.window = window;
    g.document = document;
    try {
      // every reconnect of A waits ~30 s unless something wakes it
      const { a, b, room } = await pair({ backoff: { baseMs: 30_000, maxMs: 30_000, random: () => 0.999 } }, "edge");
      const ra = await a.chat.openRoom(room.id);
      const rb = await b.chat.openRoom(room.id);
      const got: string[] = [];
      ra.on("message", (m) => got.push(m.body));
      await until(() => a.chat.state === "open", 10_000, "session open");
      const wakes: Array<[string, () => void]> = [
        ["online", () => window.dispatchEvent(new Event("online"))],
        [
          "visible",
          () => {
            document.visibilityState = "visible";
            document.dispatchEvent(new Event("visibilitychange"));
          },
        ],
      ];
      for (const [name, wake] of wakes) {
        stack.proxy.cut();
        await until(() => ra.state === "reconnecting", 5000, "A lost its stream");
        await rb.send({ body: `before ${name}` });
        await sleep(1000);
        expect(got).not.toContain(`before ${name}`); // still waiting out the backoff
        wake();
        await until(() => got.includes(`before ${name}`), 5000, `A back at once on ${name}`);
        await until(() => a.chat.state === "open", 5000, `A's session socket back on ${name}`);
      }
      expect(ra.stats().opens).toBe(3);
    } finally {
      delete g.window;
      delete g.document;
    }
  }, 30_000);
});

/** The access token the client holds (from its storage), for a plain HTTP check. */
async function tokenOf(chat: ChatClient): Promise<string> {
  return (chat as unknown as { auth: { currentToken(): string } }).auth.currentToken();
}
