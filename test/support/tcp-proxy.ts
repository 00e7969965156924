// A TCP proxy between a client and an edge, for tests of what a client does when the network
// misbehaves: cut() destroys every connection through it at once (as a lost Wi-Fi would, both
// sides see the TCP connection end), freeze() makes the current connections silent without
// closing them (as a sleeping laptop or a dead NAT entry would), block() refuses new ones.
// cutBeforeFrame() cuts one connection at a chosen WebSocket frame from the server, for the
// moments a byte-count or a timer cannot hit (between two frames of one replay). The proxy reads
// the server's frames as they are on the wire (a server does not mask them); that needs a client
// that does not offer permessage-deflate (UncompressedWebSocket in chat-clients.ts), as deployed
// (no_web_socket_compression in wrangler.toml): locally Miniflare's entry would agree to it.
import net from "node:net";

export interface TcpProxy {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** connections accepted so far */
  accepted: number;
  /** connections open right now */
  readonly open: number;
  /** destroys every open connection; how many */
  cut(): number;
  /**
   * Stops relaying bytes on the open connections, both ways or only from the server to the client
   * ("down": what the client sends still arrives, answers are lost); new connections still flow.
   * What was stopped is dropped. How many connections.
   */
  freeze(direction?: "both" | "down"): number;
  /** while on, new connections are destroyed as they arrive */
  block(on: boolean): void;
  /**
   * Arms a one-shot cut: the first WebSocket text frame from the server that `match` accepts is
   * not relayed; every byte before it is, then that connection ends (the client sees its TCP
   * connection close, as after a lost network). Resolves once it cut.
   */
  cutBeforeFrame(match: (text: string) => boolean): Promise<void>;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  frozenUp: boolean;
  frozenDown: boolean;
  /** what the server's bytes are: an HTTP response head so far, WebSocket frames after a 101, or anything else */
  down: "head" | "ws" | "other";
  /** server bytes not relayed yet: an incomplete head or frame */
  pending: Buffer;
}

interface FrameWatch {
  match(text: string): boolean;
  done(): void;
  fail(err: Error): void;
}

/** The length of the server frame at the start of `buf` (header and payload) and its opcode; null while incomplete. */
function serverFrame(
  buf: Buffer,
): { length: number; opcode: number; fin: boolean; compressed: boolean; payloadAt: number } | null {
  if (buf.length < 2) return null;
  let size = buf[1]! & 0x7f;
  let at = 2;
  if (size === 126) {
    if (buf.length < 4) return null;
    size = buf.readUInt16BE(2);
    at = 4;
  } else if (size === 127) {
    if (buf.length < 10) return null;
    size = Number(buf.readBigUInt64BE(2));
    at = 10;
  }
  // a server never masks its frames (RFC 6455 5.1), so there is no masking key to skip
  if (buf.length < at + size) return null;
  const b0 = buf[0]!;
  return { length: at + size, opcode: b0 & 0x0f, fin: (b0 & 0x80) !== 0, compressed: (b0 & 0x40) !== 0, payloadAt: at };
}

export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let blocked = false;
  let watch: FrameWatch | null = null;
  const host = target.host ?? "127.0.0.1";
  const server = net.createServer((client) => {
    proxy.accepted++;
    if (blocked) return void client.destroy();
    const upstream = net.connect(target.port, host);
    const pair: Pair = { client, upstream, frozenUp: false, frozenDown: false, down: "head", pending: Buffer.alloc(0) };
    pairs.add(pair);
    client.on("data", (chunk) => {
      if (!pair.frozenUp && !upstream.destroyed) upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (!pair.frozenDown && !client.destroyed) relayDown(pair, chunk);
    });
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on("error", end);
      s.on("close", end);
      s.on("end", () => {
        if (!pair.frozenUp && !pair.frozenDown) end();
      });
    }
  });
  // Whole frames only once the connection is a WebSocket: a client cannot act on part of a frame
  // anyway, and a frame held whole is one the watch can look at before it goes.
  function relayDown(pair: Pair, chunk: Buffer): void {
    if (pair.down === "other") return void pair.client.write(chunk);
    pair.pending = pair.pending.length ? Buffer.concat([pair.pending, chunk]) : chunk;
    if (pair.down === "head") {
      const end = pair.pending.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = pair.pending.subarray(0, end + 4);
      pair.down = head.toString("latin1").startsWith("HTTP/1.1 101") ? "ws" : "other";
      pair.client.write(head);
      pair.pending = pair.pending.subarray(end + 4);
      if (pair.down === "other") {
        if (pair.pending.length) pair.client.write(pair.pending);
        pair.pending = Buffer.alloc(0);
        return;
      }
    }
    for (let f = serverFrame(pair.pending); f; f = serverFrame(pair.pending)) {
      const frame = pair.pending.subarray(0, f.length);
      pair.pending = pair.pending.subarray(f.length);
      if (watch && f.compressed) {
        // a deflated frame cannot be read here; better a loud failure than a cut that never comes
        watch.fail(
          new Error("cutBeforeFrame: this connection is compressed (permessage-deflate); use UncompressedWebSocket"),
        );
        watch = null;
      }
      if (watch && f.opcode === 1 && f.fin && watch.match(frame.subarray(f.payloadAt).toString("utf8"))) {
        const w = watch;
        watch = null;
        pairs.delete(pair);
        pair.frozenUp = pair.frozenDown = true;
        pair.pending = Buffer.alloc(0);
        // end() first, destroy() once it flushed: the frames relayed before this one must reach the client
        pair.client.end(() => pair.upstream.destroy());
        w.done();
        return;
      }
      pair.client.write(frame);
    }
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  const proxy: TcpProxy = {
    url: `http://127.0.0.1:${port}`,
    port,
    accepted: 0,
    get open() {
      return pairs.size;
    },
    cut() {
      const n = pairs.size;
      for (const p of [...pairs]) {
        pairs.delete(p);
        p.client.destroy();
        p.upstream.destroy();
      }
      return n;
    },
    freeze(direction = "both") {
      for (const p of pairs) {
        p.frozenDown = true;
        if (direction === "both") p.frozenUp = true;
      }
      return pairs.size;
    },
    block(on) {
      blocked = on;
    },
    cutBeforeFrame(match) {
      if (watch) return Promise.reject(new Error("a frame cut is armed already"));
      return new Promise<void>((done, fail) => {
        watch = { match, done, fail };
      });
    },
    async close() {
      proxy.cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
