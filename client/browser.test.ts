// The SDK in a real browser: headless Chromium loads it from the same origin as the edge, with
// the browser's own fetch, WebSocket and IndexedDB (the default storage there); a reload keeps
// the session and resends the outbox from IndexedDB.
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message, RoomClient } from "./index.js";
import { uniqueHandle } from "../test/support/api.js";
import type { Page } from "playwright-core";
import { launchChromium, type RunningBrowser } from "../test/support/browser.js";
import { useEdge } from "../test/support/edge.js";
import { signedUp, until } from "../test/support/chat-clients.js";
import { startSameOrigin, type SameOrigin } from "../test/support/same-origin.js";

const edge = useEdge();
let site: SameOrigin;
let browser: RunningBrowser;
let page: Page;
let peer: Awaited<ReturnType<typeof signedUp>>;

beforeAll(async () => {
  const bundle = await build({
    stdin: { contents: `import * as sdk from "./index.ts"; globalThis.sdk = sdk;`, resolveDir: import.meta.dirname },
    bundle: true,
    format: "iife",
    platform: "browser",
    write: false,
    logLevel: "silent",
  });
  site = await startSameOrigin(edge.url, {
    "/sdk-test/": { type: "text/html", body: `<!doctype html><script src="/sdk-test/sdk.js"></script>` },
    "/sdk-test/sdk.js": { type: "text/javascript", body: bundle.outputFiles[0]!.text },
  });
  browser = await launchChromium();
  page = await (await browser.browser.newContext()).newPage();
  peer = await signedUp(edge.url);
}, 60_000);
afterAll(async () => {
  peer?.chat.close();
  await browser?.close();
  await site?.close();
});

describe("the SDK in Chromium", () => {
  it("IndexedDB storage keeps copies, lists by prefix and deletes", async () => {
    await page.goto(`${site.url}/sdk-test/`);
    const out = await page.evaluate<unknown[]>(`(async () => {
      const s = sdk.indexedDbStorage({ name: "storage-check" });
      const v = { n: 1, list: ["a"] };
      await s.set("a:1", v); await s.set("a:2", 2); await s.set("b:1", "other");
      v.n = 99;
      const got = await s.get("a:1");
      await s.delete("a:2");
      const again = sdk.indexedDbStorage({ name: "storage-check" });
      return [got, await again.entries("a:"), await again.get("a:2"), await again.get("b:1")];
    })()`);
    expect(out).toEqual([{ n: 1, list: ["a"] }, [["a:1", { n: 1, list: ["a"] }]], undefined, "other"]);
  });

  it("signs up and talks with a Node client; after a reload it is still signed in and resends its outbox from IndexedDB", async () => {
    const handle = uniqueHandle("web");
    await page.goto(`${site.url}/sdk-test/`);
    const first = await page.evaluate<{
      me: { id: string };
      roomId: string;
      ack: { seq: number };
      state: string;
    }>(`(async () => {
      const chat = sdk.createChatClient({ baseUrl: location.origin, deviceId: "browser-1" });
      window.chat = chat;
      const me = await chat.register({ handle: ${JSON.stringify(handle)}, password: "correct horse battery", display_name: "In a browser" });
      const room = await chat.openDirect(${JSON.stringify(peer.user.id)});
      window.room = room;
      const ack = await room.send({ body: "from the browser" });
      while (chat.state !== "open") await new Promise((r) => setTimeout(r, 20));
      return { me, roomId: room.id, ack, state: chat.state };
    })()`);
    expect(first.ack.seq).toBe(1);
    expect(first.state).toBe("open");

    // the Node side answers each message of the browser's
    const got: Message[] = [];
    const peerRoom: RoomClient = peer.chat.room(first.roomId);
    peerRoom.on("message", (m) => {
      got.push(m);
      if (m.sender_id !== peer.user.id) void peerRoom.send({ body: `re: ${m.body}` });
    });
    await peerRoom.ready;
    for (const m of peerRoom.messages()) if (!got.includes(m)) got.push(m);
    await until(() => got.some((m) => m.body === "from the browser"), 5000, "the peer has the browser's message");

    // no stream can open now: a message queued in the page waits in IndexedDB, then the page reloads
    site.blockSockets(true);
    const stored = await page.evaluate<number>(`(async () => {
      room.send({ body: "queued in the browser" }).catch(() => {});
      const idb = sdk.indexedDbStorage();
      for (;;) {
        const items = await idb.entries("edge-chat:outbox:");
        if (items.length > 0) return items.length;
        await new Promise((r) => setTimeout(r, 10));
      }
    })()`);
    expect(stored).toBe(1);
    await page.goto(`${site.url}/sdk-test/`);
    site.blockSockets(false);
    const second = await page.evaluate<{
      me: { id: string } | null;
      sent: { body: string; seq: number };
      reply: string;
      left: number;
    }>(`(async () => {
      const chat = sdk.createChatClient({ baseUrl: location.origin, deviceId: "browser-1" });
      const me = await chat.restore();
      const room = chat.room(${JSON.stringify(first.roomId)});
      const reply = new Promise((r) => room.on("message", (m) => m.body === "re: queued in the browser" && r(m.body)));
      const sent = await new Promise((r) => room.on("sent", (e) => r({ body: e.item.frame.body, seq: e.ack.seq })));
      const answer = await reply;
      await new Promise((r) => setTimeout(r, 100));
      const left = (await sdk.indexedDbStorage().entries("edge-chat:outbox:")).length;
      chat.close();
      return { me, sent, reply: answer, left };
    })()`);
    expect(second.me?.id).toBe(first.me.id);
    expect(second.sent).toEqual({ body: "queued in the browser", seq: 3 });
    expect(second.reply).toBe("re: queued in the browser");
    expect(second.left).toBe(0);
    await until(() => got.length === 4, 5000, "four messages on the peer's side");
    expect(got.map((m) => [m.seq, m.body])).toEqual([
      [1, "from the browser"],
      [2, "re: from the browser"],
      [3, "queued in the browser"],
      [4, "re: queued in the browser"],
    ]);
  }, 60_000);
});
