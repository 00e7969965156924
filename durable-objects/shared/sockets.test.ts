import { describe, expect, it } from "vitest";
import {
  CLOSING_GRACE_MS,
  CloseCode,
  SocketHost,
  closeDecision,
  nextCheck,
  type SocketHostOptions,
  type SocketInfo,
} from "./sockets.js";

const info = (over: Partial<SocketInfo> = {}): SocketInfo => ({
  userId: "u",
  deviceId: "d",
  tokenExpiresAt: 1_000_000,
  openedAt: 0,
  seenAt: 0,
  ...over,
});

describe("socket close rules", () => {
  it("closes a socket whose token expired", () => {
    expect(closeDecision(info({ tokenExpiresAt: 500 }), 499, 500, 60_000)?.code).toBe(CloseCode.tokenExpired);
  });
  it("keeps a socket that pinged within the silence window and closes one that did not", () => {
    expect(closeDecision(info(), 10_000, 69_999, 60_000)).toBeNull();
    expect(closeDecision(info(), 10_000, 70_000, 60_000)?.code).toBe(CloseCode.silent);
  });
  it("counts frames and the open time as signs of life when there was no ping", () => {
    expect(closeDecision(info({ openedAt: 50_000 }), null, 100_000, 60_000)).toBeNull();
    expect(closeDecision(info({ seenAt: 80_000 }), null, 130_000, 60_000)).toBeNull();
    expect(closeDecision(info({ seenAt: 80_000 }), null, 140_000, 60_000)?.code).toBe(CloseCode.silent);
  });
  it("asks to be checked again at the earlier of expiry and silence", () => {
    expect(nextCheck(info({ tokenExpiresAt: 30_000 }), 0, 60_000)).toBe(30_000);
    expect(nextCheck(info({ openedAt: 5_000 }), null, 60_000)).toBe(65_000);
  });
});

class FakeSocket {
  sent: string[] = [];
  closedWith: [number, string] | null = null;
  private attachment: unknown = null;
  send(data: string) {
    if (this.closedWith) throw new Error("closed");
    this.sent.push(data);
  }
  close(code: number, reason: string) {
    this.closedWith ??= [code, reason];
  }
  serializeAttachment(a: unknown) {
    this.attachment = structuredClone(a);
  }
  deserializeAttachment() {
    return this.attachment;
  }
}

function fakeCtx() {
  const sockets: Array<{ ws: FakeSocket; tags: string[] }> = [];
  const calls = { getWebSockets: 0 };
  const ctx = {
    acceptWebSocket: (ws: FakeSocket, tags: string[]) => void sockets.push({ ws, tags }),
    getWebSockets: (tag?: string) => {
      calls.getWebSockets++;
      return sockets.filter((s) => !tag || s.tags.includes(tag)).map((s) => s.ws);
    },
    getWebSocketAutoResponseTimestamp: () => null,
  };
  return { ctx: ctx as unknown as DurableObjectState, sockets, calls };
}

describe("SocketHost closing", () => {
  const claims = (user: string, ticket: string) => ({
    user_id: user,
    device_id: `${user}-phone`,
    ticket_id: ticket,
    ticket_expires_at: 0,
    token_expires_at: 10_000_000,
  });
  function host(extra: Partial<SocketHostOptions> = {}) {
    const f = fakeCtx();
    const wakes: number[] = [];
    const gone: string[] = [];
    const options = {
      silentMs: 60_000,
      verify: async () => null,
      wake: (at: number) => void wakes.push(at),
      onGone: (i: SocketInfo) => void gone.push(i.userId),
      ...extra,
    };
    // WebSocketPair exists only in workerd: accept a pre-made socket the way the runtime would
    const g = globalThis as unknown as { WebSocketPair: unknown };
    g.WebSocketPair = class {
      0 = new FakeSocket();
      1 = new FakeSocket();
    };
    const h = new SocketHost(f.ctx, options);
    return { h, f, wakes, gone, options };
  }

  it("tells the client `closing`, stops talking to it, and closes it itself only after the grace", () => {
    const { h, f, wakes, gone } = host();
    h.acceptTicketed(claims("a", "t1"), () => true, 0);
    h.acceptTicketed(claims("b", "t2"), () => true, 0);
    const [a, b] = f.sockets.map((s) => s.ws);
    h.close(a as unknown as WebSocket, CloseCode.removed, "removed", 1000);
    expect(a!.sent.map((d) => JSON.parse(d))).toEqual([{ type: "closing", code: 4003, reason: "removed" }]);
    expect(a!.closedWith).toBeNull(); // the client closes first; that completes at once
    expect(gone).toEqual(["a"]);
    expect(wakes).toEqual([1000 + CLOSING_GRACE_MS]);
    expect(h.dueAt()).toBe(1000 + CLOSING_GRACE_MS);
    h.broadcast({ type: "pong" });
    h.sendToUser("a", { type: "pong" });
    expect(a!.sent.length).toBe(1);
    expect(b!.sent.length).toBe(1);
    h.close(a as unknown as WebSocket, CloseCode.removed, "again", 1500); // once only
    expect(a!.sent.length).toBe(1);
    h.sweep(1000 + CLOSING_GRACE_MS - 1);
    expect(a!.closedWith).toBeNull();
    h.sweep(1000 + CLOSING_GRACE_MS);
    expect(a!.closedWith).toEqual([4003, "removed"]);
  });

  it("echoes the client's close with its code, and remembers a closing socket across hibernation", () => {
    const { h, f, options } = host();
    h.acceptTicketed(claims("a", "t1"), () => true, 0);
    const a = f.sockets[0]!.ws;
    h.close(a as unknown as WebSocket, CloseCode.silent, "silent", 0);
    // the object hibernates and wakes: the closing socket is not held again, its deadline is kept
    const woken = new SocketHost(f.ctx, options);
    expect(woken.size).toBe(0);
    expect(woken.dueAt()).toBe(CLOSING_GRACE_MS);
    expect(woken.touch(a as unknown as WebSocket, 10)).toBeNull();
    woken.closed(a as unknown as WebSocket, 4002, "silent");
    expect(a.closedWith).toEqual([4002, "silent"]);
    expect(woken.dueAt()).toBeNull();
  });

  const frames = (ws: FakeSocket) => ws.sent.map((d) => JSON.parse(d) as Record<string, unknown>);
  const as = (ws: FakeSocket) => ws as unknown as WebSocket;

  it("refuses a socket over the device's or the user's cap with an error frame and a close, and frees a slot on close", () => {
    const { h, f } = host({ maxPerUser: 3, maxPerDevice: 2 });
    const open = (device: string, t: string) =>
      h.acceptTicketed({ ...claims("a", t), device_id: device }, () => true, 0)!;
    expect([open("phone", "1").refused, open("phone", "2").refused]).toEqual([false, false]);
    const third = open("phone", "3");
    expect(third.refused).toBe(true);
    const refusedWs = f.sockets[2]!.ws;
    expect(frames(refusedWs)).toEqual([
      { type: "error", code: "rate_limited", message: "at most 2 sockets per device here; close one first" },
      { type: "closing", code: CloseCode.tooManySockets, reason: "at most 2 sockets per device here; close one first" },
    ]);
    expect(open("laptop", "4").refused).toBe(false);
    const fifth = open("tablet", "5");
    expect(fifth.refused).toBe(true);
    expect(frames(f.sockets[4]!.ws)[1]).toMatchObject({ code: CloseCode.tooManySockets });
    expect(h.size).toBe(3);
    // another user is not affected; a closed socket gives its slot back
    expect(h.acceptTicketed(claims("b", "6"), () => true, 0)!.refused).toBe(false);
    h.closed(as(f.sockets[0]!.ws), 1000, "bye");
    expect(open("tablet", "7").refused).toBe(false);
    expect(h.hasDevice("a", "phone")).toBe(true);
    expect(h.hasDevice("a", "desk")).toBe(false);
  });

  it("delivers a commit's frames: packed to a socket that reads batches, one by one to the others, acks last", () => {
    const { h, f } = host();
    h.acceptTicketed(claims("a", "t1"), () => true, 0, { batch: true });
    h.acceptTicketed(claims("b", "t2"), () => true, 0, { batch: true });
    h.acceptTicketed(claims("c", "t3"), () => true, 0);
    const [a, b, c] = f.sockets.map((s) => s.ws);
    const messages = ['{"type":"message","seq":1}', '{"type":"message","seq":2}'];
    const ackA = '{"type":"ack","seq":2}';
    h.deliver(messages, new Map([[as(a!), [ackA]]]));
    expect(a!.sent).toEqual([`[${messages.join(",")},${ackA}]`]);
    expect(b!.sent).toEqual([`[${messages.join(",")}]`]);
    expect(c!.sent).toEqual(messages);
    // a lone frame goes as itself, even to a socket that reads batches
    h.deliver([messages[0]!]);
    expect(b!.sent.at(-1)).toBe(messages[0]);
    // the choice survives hibernation (it is on the attachment): a woken host still packs for a, not for c
    const woken = new SocketHost(f.ctx, { silentMs: 60_000, verify: async () => null });
    woken.deliver(messages);
    expect(a!.sent.at(-1)).toBe(`[${messages.join(",")}]`);
    expect(c!.sent.slice(-2)).toEqual(messages);
  });

  it("keeps the devices of each user until a socket comes or goes", () => {
    const { h, f } = host();
    h.acceptTicketed(claims("a", "t1"), () => true, 0);
    const first = h.devicesByUser();
    expect([...first]).toEqual([["a", ["a-phone"]]]);
    expect(h.devicesByUser()).toBe(first); // asked again with nothing changed: the same map
    h.acceptTicketed({ ...claims("a", "t2"), device_id: "a-laptop" }, () => true, 0);
    h.acceptTicketed(claims("b", "t3"), () => true, 0);
    expect([...h.devicesByUser()]).toEqual([
      ["a", ["a-phone", "a-laptop"]],
      ["b", ["b-phone"]],
    ]);
    h.closed(as(f.sockets[0]!.ws), 1000, "bye");
    h.close(as(f.sockets[2]!.ws), CloseCode.removed, "removed", 0);
    expect([...h.devicesByUser()]).toEqual([["a", ["a-laptop"]]]);
  });

  it("still sends a sender's ack when its socket is closing (no longer held), and nothing else", () => {
    const { h, f } = host();
    h.acceptTicketed(claims("a", "t1"), () => true, 0, { batch: true });
    const a = f.sockets[0]!.ws;
    h.close(as(a), CloseCode.removed, "removed", 0);
    h.deliver(['{"type":"message","seq":1}'], new Map([[as(a), ['{"type":"ack","seq":1}']]]));
    expect(frames(a).map((x) => x.type)).toEqual(["closing", "ack"]);
  });

  it("answers frames over a socket's budget with rate_limited and closes a socket that keeps flooding", () => {
    const { h, f } = host({ frames: { perSecond: 10, burst: 3 } });
    h.acceptTicketed(claims("a", "t1"), () => true, 0);
    const ws = f.sockets[0]!.ws;
    const admitted = Array.from({ length: 3 }, () => h.admit(as(ws), 0));
    expect(admitted.every((i) => i?.userId === "a")).toBe(true);
    expect(h.admit(as(ws), 0)).toBeNull();
    expect(frames(ws).at(-1)).toMatchObject({ type: "error", code: "rate_limited", retry_after_ms: 100 });
    expect(h.admit(as(ws), 100)?.userId).toBe("a"); // waited as told
    for (let i = 0; i < 10; i++) h.admit(as(ws), 100);
    expect(frames(ws).at(-1)).toMatchObject({ type: "closing", code: CloseCode.policy });
    expect(h.size).toBe(0);
    expect(h.admit(as(ws), 200)).toBeNull(); // nothing more is heard from it
  });

  it("closes thousands of sockets in one pass: one alarm request, no runtime lookups per socket", () => {
    const { h, f, wakes } = host();
    const n = 3000;
    for (let i = 0; i < n; i++) h.acceptTicketed(claims(`u${i % 1500}`, `t${i}`), () => true, 0);
    f.calls.getWebSockets = 0;
    const stillHere: boolean[] = [];
    // the room's onGone asks, for each socket that leaves, whether its user still holds one
    const closed = h.closeWhere((i) => i.userId !== "u7", CloseCode.removed, "removed", 5);
    for (let i = 0; i < 1500; i++) stillHere.push(h.hasUser(`u${i}`));
    expect(closed).toBe(n - 2);
    expect(stillHere.filter(Boolean)).toHaveLength(1);
    expect(f.calls.getWebSockets).toBe(0);
    expect(wakes).toEqual([5 + CLOSING_GRACE_MS]);
    expect(h.size).toBe(2);
  });
});
