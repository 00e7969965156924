import { describe, expect, it } from "vitest";
import { CLOSING_GRACE_MS, CloseCode, SocketHost, closeDecision, nextCheck, type SocketInfo } from "./sockets.js";

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
  const ctx = {
    acceptWebSocket: (ws: FakeSocket, tags: string[]) => void sockets.push({ ws, tags }),
    getWebSockets: (tag?: string) => sockets.filter((s) => !tag || s.tags.includes(tag)).map((s) => s.ws),
    getWebSocketAutoResponseTimestamp: () => null,
  };
  return { ctx: ctx as unknown as DurableObjectState, sockets };
}

describe("SocketHost closing", () => {
  const claims = (user: string, ticket: string) => ({
    user_id: user,
    device_id: `${user}-phone`,
    ticket_id: ticket,
    ticket_expires_at: 0,
    token_expires_at: 10_000_000,
  });
  function host() {
    const f = fakeCtx();
    const wakes: number[] = [];
    const gone: string[] = [];
    const options = {
      silentMs: 60_000,
      verify: async () => null,
      wake: (at: number) => void wakes.push(at),
      onGone: (i: SocketInfo) => void gone.push(i.userId),
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
});
