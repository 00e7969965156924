// The SDK against the real stack: real workerd edge, real PostgreSQL, Node 20 with `ws`.
import { afterEach, describe, expect, it } from "vitest";
import type { ChatClient, ClientState, Message, Receipt } from "./index.js";
import { ChatError } from "./index.js";
import { useEdge } from "../test/support/edge.js";
import { PASSWORD, chatClient, signedUp, until } from "../test/support/chat-clients.js";

const edge = useEdge();
const open: ChatClient[] = [];
const track = <T extends { chat: ChatClient }>(x: T) => (open.push(x.chat), x);
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

describe("the SDK against the real edge", () => {
  it("registers, logs in on another device, and reports its state from connecting to open", async () => {
    const { chat, user, handle } = track(await signedUp(edge.url));
    expect(chat.me).toEqual(user);
    await until(() => chat.state === "open", 10_000, "state open");
    expect(await chat.profile()).toMatchObject({ id: user.id, handle, group_adds: "anyone" });

    const other = chatClient(edge.url);
    open.push(other);
    const states: ClientState[] = [];
    other.on("state", ({ state }) => states.push(state));
    expect(await other.login({ handle, password: PASSWORD })).toEqual(user);
    await until(() => other.state === "open", 10_000, "second device open");
    expect(states).toEqual(["connecting", "open"]);

    await expect(chatClient(edge.url).login({ handle, password: "wrong password!" })).rejects.toMatchObject({
      code: "unauthorized",
      status: 401,
    });
    // a body the protocol refuses never leaves the client
    await expect(
      chatClient(edge.url).register({ handle: "x", password: PASSWORD, display_name: "X" }),
    ).rejects.toBeInstanceOf(ChatError);
  });

  it("two clients open a direct room and exchange messages, receipts and typing", async () => {
    const a = track(await signedUp(edge.url));
    const b = track(await signedUp(edge.url));
    const created = await a.chat.createDirect(b.user.id);
    expect(created).toMatchObject({ type: "direct", peer_id: b.user.id });
    const roomA = await a.chat.openRoom(created.id);
    const roomB = await b.chat.openDirect(a.user.id);
    expect(roomB.id).toBe(created.id);
    expect(roomA.state).toBe("live");

    const seenByB: Message[] = [];
    const seenByA: Message[] = [];
    roomB.on("message", (m) => seenByB.push(m));
    roomA.on("message", (m) => seenByA.push(m));
    const receipts: Receipt[] = [];
    roomA.on("receipt", (r) => receipts.push(r));
    const typing: string[] = [];
    roomB.on("typing", (t) => typing.push(t.user_id));

    const ack1 = await roomA.send({ body: "hello B", mentions: [b.user.id] });
    expect(ack1).toMatchObject({ room_id: created.id, seq: 1 });
    expect(ack1.duplicate).toBeUndefined();
    const ack2 = await roomB.send({ body: "hello A" });
    expect(ack2.seq).toBe(2);
    await until(() => seenByA.length === 2 && seenByB.length === 2, 5000, "both messages on both sides");
    expect(seenByB.map((m) => [m.seq, m.body, m.sender_id])).toEqual([
      [1, "hello B", a.user.id],
      [2, "hello A", b.user.id],
    ]);
    expect(seenByB[0]!.mentions).toEqual([b.user.id]);
    expect(seenByA.map((m) => m.message_id)).toEqual([ack1.message_id, ack2.message_id]);
    expect(roomB.messages().map((m) => m.seq)).toEqual([1, 2]);

    roomB.markRead(2);
    await until(() => receipts.some((r) => r.user_id === b.user.id && r.read_seq === 2), 5000, "read receipt");

    expect(roomA.typing()).toBe(true);
    expect(roomA.typing()).toBe(false); // throttled here, before the room would drop it
    await until(() => typing.includes(a.user.id), 5000, "typing");

    // the room list shows the room, its last message and B's unread count from A's side
    const list = await a.chat.rooms({ limit: 10 });
    const entry = list.rooms.find((r) => r.room.id === created.id);
    expect(entry?.last_message?.seq).toBe(2);
    expect(list.next_cursor).toBeNull();

    // history pages come over HTTP, newest first, and join what the room holds
    const page = await roomB.history({ beforeSeq: 2, limit: 10 });
    expect(page.messages.map((m) => m.seq)).toEqual([1]);
    expect(page.has_more).toBe(false);
  });

  it("searches users, adds friends, creates a group, and watches presence", async () => {
    const a = track(await signedUp(edge.url, {}, "pres"));
    const b = track(await signedUp(edge.url, {}, "pres"));
    const found = await a.chat.users.search(b.handle);
    expect(found.map((u) => u.id)).toContain(b.user.id);

    const friend = await a.chat.friends.add(b.user.id);
    expect(friend).toMatchObject({ user: { id: b.user.id }, favorite: false, blocked: false });
    await a.chat.friends.update(b.user.id, { favorite: true });
    expect((await a.chat.friends.list()).map((f) => [f.user.id, f.favorite])).toEqual([[b.user.id, true]]);
    // B adds A back: A may see B's presence (B added A)
    await b.chat.friends.add(a.user.id);

    const group = await a.chat.createGroup({ name: "the group", member_ids: [b.user.id] });
    expect((await a.chat.getRoom(group.id)).members.map((m) => m.user_id).sort()).toEqual(
      [a.user.id, b.user.id].sort(),
    );

    await until(() => a.chat.state === "open" && b.chat.state === "open", 10_000, "both open");
    const heard: string[] = [];
    a.chat.on("presence", (p) => heard.push(`${p.user_id}:${p.status}`));
    const unwatch = a.chat.presence.watch([b.user.id]);
    await until(() => a.chat.presence.get(b.user.id)?.status === "online", 5000, "B online");
    b.chat.close();
    await until(() => a.chat.presence.get(b.user.id)?.status === "offline", 10_000, "B offline");
    expect(heard).toEqual([`${b.user.id}:online`, `${b.user.id}:offline`]);
    unwatch();
  });

  it("logs out: the session ends, the sockets close and the state is closed", async () => {
    const a = track(await signedUp(edge.url));
    await until(() => a.chat.state === "open", 10_000, "open");
    const ended: string[] = [];
    a.chat.on("signed_out", ({ reason }) => ended.push(reason));
    await a.chat.logout();
    expect(a.chat.state).toBe("closed");
    expect(a.chat.me).toBeNull();
    expect(ended).toEqual(["logged_out"]);
    await expect(a.chat.rooms()).rejects.toMatchObject({ code: "signed_out" });
  });
});
