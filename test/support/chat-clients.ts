// SDK clients for tests: Node 20 with `ws` as the WebSocket, a device id of their own, and a user
// registered through the SDK itself.
import WebSocket from "ws";
import { afterAll, afterEach, beforeAll } from "vitest";
import { createChatClient, memoryStorage, type ChatClient, type ChatClientOptions } from "../../client/index.js";
import { uniqueHandle } from "./api.js";
import { useEdge } from "./edge.js";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.js";

let devices = 0;

/**
 * `ws` without the permessage-deflate offer, as the deployed edge would have it anyway
 * (no_web_socket_compression in wrangler.toml; locally Miniflare's entry agrees to deflate): for
 * tests whose proxy reads the frames (TcpProxy.cutBeforeFrame).
 */
export class UncompressedWebSocket extends WebSocket {
  constructor(url: string) {
    super(url, { perMessageDeflate: false });
  }
}

export function chatClient(baseUrl: string, o: Partial<ChatClientOptions> = {}): ChatClient {
  return createChatClient({
    baseUrl,
    deviceId: `test-device-${process.pid}-${++devices}`,
    storage: memoryStorage(),
    WebSocket,
    ...o,
  });
}

export const PASSWORD = "correct horse battery";

/** A client signed up as a new user. */
export async function signedUp(baseUrl: string, o: Partial<ChatClientOptions> = {}, prefix = "sdk") {
  const chat = chatClient(baseUrl, o);
  const handle = uniqueHandle(prefix);
  const user = await chat.register({ handle, password: PASSWORD, display_name: `User ${handle}` });
  return { chat, user, handle };
}

/** Polls until `check` holds. */
export async function until(check: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * One edge for the test file with a cutting TCP proxy in front of it (tcp-proxy.ts), and the
 * clients a test opens (pushed to `open`), closed after each test with the proxy unblocked.
 */
export function useEdgeBehindProxy(vars: Record<string, string> = {}) {
  const edge = useEdge(vars);
  let proxy: TcpProxy | undefined;
  const open: ChatClient[] = [];
  beforeAll(async () => {
    proxy = await startTcpProxy({ port: Number(new URL(edge.url).port) });
  });
  afterAll(() => proxy?.close());
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
    proxy?.block(false);
  });
  return {
    edge,
    open,
    get proxy(): TcpProxy {
      if (!proxy) throw new Error("the proxy starts in beforeAll; use it inside hooks and tests");
      return proxy;
    },
  };
}
