// Tokens over time, against an edge whose access tokens live 8 seconds: refreshed before expiry
// (and handed to the open sockets in `auth` frames), after a 4001 close, and on a 401.
import { afterEach, describe, expect, it } from "vitest";
import type { ChatClient, Message } from "./index.js";
import { memoryStorage } from "./index.js";
import { useEdge } from "../test/support/edge.js";
import { chatClient, signedUp, until } from "../test/support/chat-clients.js";

const TTL_S = 8;
const edge = useEdge({ ACCESS_TOKEN_TTL_SECONDS: String(TTL_S) });
const open: ChatClient[] = [];
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Session = { access_token: string; refresh_token: string };
const sessionIn = async (s: ReturnType<typeof memoryStorage>) => (await s.get("edge-chat:session")) as Session;

describe("access tokens that expire", () => {
  it("refreshes before expiry, rotates and stores the refresh token, and keeps the sockets open with auth frames", async () => {
    const storage = memoryStorage();
    const a = await signedUp(edge.url, { storage });
    const b = await signedUp(edge.url);
    open.push(a.chat, b.chat);
    const first = await sessionIn(storage);
    const room = await a.chat.openDirect(b.user.id);
    await until(() => a.chat.state === "open", 10_000, "session open");
    // past two lifetimes of the first token: without auth frames both sockets would be closed 4001
    await sleep(TTL_S * 2000 + 1500);
    const stats = a.chat.stats();
    expect(stats.refreshes).toBeGreaterThanOrEqual(2);
    expect(stats.session).toEqual({ attempts: 1, opens: 1, lastClose: null });
    expect(stats.rooms[room.id]).toMatchObject({ attempts: 1, opens: 1, state: "live" });
    const now = await sessionIn(storage);
    expect(now.refresh_token).not.toBe(first.refresh_token);
    expect(now.access_token).not.toBe(first.access_token);
    // the socket opened with the first token still carries frames both ways
    const rb = await b.chat.openRoom(room.id);
    const got: Message[] = [];
    rb.on("message", (m) => got.push(m));
    const ack = await room.send({ body: "still here" });
    await until(() => got.length === 1, 5000, "B got it");
    expect(got[0]).toMatchObject({ seq: ack.seq, body: "still here" });
    expect(a.chat.stats().rooms[room.id]).toMatchObject({ opens: 1 });
  }, 40_000);

  it("without refreshing ahead, a 4001 close at expiry refreshes and reconnects, resuming after the last seq", async () => {
    const a = await signedUp(edge.url, { refreshBeforeExpiry: false });
    const b = await signedUp(edge.url);
    open.push(a.chat, b.chat);
    const ra = await a.chat.openDirect(b.user.id);
    const rb = await b.chat.openRoom(ra.id);
    const got: Message[] = [];
    ra.on("message", (m) => got.push(m));
    await rb.send({ body: "before" });
    await until(() => got.length === 1, 5000, "first message");
    await until(() => (a.chat.stats().rooms[ra.id]?.opens ?? 0) >= 2, TTL_S * 1000 + 8000, "room reconnected");
    expect(a.chat.stats().refreshes).toBeGreaterThanOrEqual(1);
    expect(a.chat.stats().rooms[ra.id]?.lastClose?.code).toBe(4001);
    await until(() => ra.state === "live", 5000, "live again");
    await rb.send({ body: "after" });
    await until(() => got.length === 2, 5000, "second message");
    expect(got.map((m) => [m.seq, m.body])).toEqual([
      [1, "before"],
      [2, "after"],
    ]);
    // B kept refreshing ahead: its sockets never closed
    expect(b.chat.stats().rooms[ra.id]).toMatchObject({ opens: 1 });
  }, 40_000);

  it("a refused access token (401) is refreshed once, and every request waiting on it retries with the new one", async () => {
    const storage = memoryStorage();
    const a = await signedUp(edge.url, { storage });
    a.chat.close();
    const stored = await sessionIn(storage);
    await storage.set("edge-chat:session", { ...stored, access_token: "not.a.token" });
    const again = chatClient(edge.url, { storage });
    open.push(again);
    expect((await again.restore())?.id).toBe(a.user.id);
    const [list, me] = await Promise.all([again.rooms(), again.profile()]);
    expect(list.rooms).toEqual([]);
    expect(me.id).toBe(a.user.id);
    await until(() => again.state === "open", 10_000, "session socket open");
    expect(again.stats().refreshes).toBe(1);
    expect((await sessionIn(storage)).refresh_token).not.toBe(stored.refresh_token);
  });

  it("a refused refresh token ends the session: signed_out, state closed, nothing stored", async () => {
    const storage = memoryStorage();
    const a = await signedUp(edge.url, { storage });
    a.chat.close();
    const stored = await sessionIn(storage);
    await storage.set("edge-chat:session", {
      ...stored,
      access_token: "not.a.token",
      refresh_token: "A".repeat(43),
    });
    const again = chatClient(edge.url, { storage });
    open.push(again);
    const ended: string[] = [];
    again.on("signed_out", ({ reason }) => ended.push(reason));
    await again.restore();
    await expect(again.rooms()).rejects.toMatchObject({ status: 401 });
    await until(() => ended.length > 0, 5000, "signed out");
    expect(ended).toEqual(["session_expired"]);
    expect(again.state).toBe("closed");
    expect(await storage.get("edge-chat:session")).toBeUndefined();
  });
});
