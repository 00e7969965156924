// The SDK inside workerd: bundled as a browser-like module (no Node), run as a Worker in its own
// Miniflare, it signs up, opens a direct room with a Node client over the real edge, sends, and
// hears the answer, with workerd's own fetch and WebSocket constructor.
import path from "node:path";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { afterEach, describe, expect, it } from "vitest";
import type { ChatClient, Message } from "./index.js";
import { uniqueHandle } from "../test/support/api.js";
import { useEdge } from "../test/support/edge.js";
import { signedUp, until } from "../test/support/chat-clients.js";

const edge = useEdge();
const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
});

const WORKER = `
import { createChatClient, memoryStorage } from "./index.ts";
export default {
  async fetch(request) {
    const { baseUrl, handle, peer } = await request.json();
    const chat = createChatClient({ baseUrl, deviceId: "workerd-device", storage: memoryStorage() });
    try {
      const me = await chat.register({ handle, password: "correct horse battery", display_name: "In workerd" });
      const room = await chat.openDirect(peer);
      const reply = new Promise((resolve) => room.on("message", (m) => m.sender_id === peer && resolve(m)));
      const ack = await room.send({ body: "hello from workerd" });
      const answer = await reply;
      const state = chat.state;
      chat.close();
      return Response.json({ me, ack, answer, state });
    } catch (err) {
      chat.close();
      return Response.json({ error: String(err?.stack ?? err) }, { status: 500 });
    }
  },
};`;

describe("the SDK in workerd", () => {
  it("signs up, opens a direct room, sends and receives with workerd's fetch and WebSocket", async () => {
    const bundle = await build({
      stdin: { contents: WORKER, resolveDir: import.meta.dirname, loader: "js" },
      bundle: true,
      format: "esm",
      platform: "browser",
      write: false,
      logLevel: "silent",
    });
    const mf = new Miniflare({
      modules: true,
      script: bundle.outputFiles[0]!.text,
      scriptPath: path.join(import.meta.dirname, "sdk-worker.js"),
      compatibilityDate: "2026-04-01",
    });
    open.push({ close: () => mf.dispose() });
    const peer = await signedUp(edge.url);
    open.push(peer.chat);
    const got: Message[] = [];
    let peerRoom: Awaited<ReturnType<ChatClient["openRoom"]>> | null = null;
    // the peer answers whatever the Worker says once the Worker's room exists
    const heard = (m: Message) => {
      got.push(m);
      if (m.sender_id !== peer.user.id) void peerRoom!.send({ body: `echo: ${m.body}` });
    };
    peer.chat.on("room", async ({ room_id, event }) => {
      if (event !== "created") return;
      peerRoom = await peer.chat.openRoom(room_id);
      // what the opening replay delivered is held; what comes later is an event
      for (const m of peerRoom.messages()) heard(m);
      peerRoom.on("message", heard);
    });
    await until(() => peer.chat.state === "open", 10_000, "peer's session open");
    const res = await mf.dispatchFetch("http://sdk.test/", {
      method: "POST",
      body: JSON.stringify({ baseUrl: edge.url, handle: uniqueHandle("wrkd"), peer: peer.user.id }),
    });
    const out = (await res.json()) as {
      error?: string;
      me: { id: string };
      ack: { seq: number };
      answer: Message;
      state: string;
    };
    expect(out.error).toBeUndefined();
    expect(res.status).toBe(200);
    expect(out.ack.seq).toBe(1);
    expect(out.answer).toMatchObject({ seq: 2, body: "echo: hello from workerd", sender_id: peer.user.id });
    expect(out.state).toBe("open");
    // the peer's own copy of its echo may reach it after the Worker's copy reached the Worker
    await until(() => got.length >= 2, 10_000, "the peer's own copy of its echo");
    expect(got.map((m) => [m.seq, m.sender_id])).toEqual([
      [1, out.me.id],
      [2, peer.user.id],
    ]);
  }, 60_000);
});
