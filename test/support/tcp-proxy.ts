// A TCP proxy between a client and an edge, for tests of what a client does when the network
// misbehaves: cut() destroys every connection through it at once (as a lost Wi-Fi would, both
// sides see the TCP connection end), freeze() makes the current connections silent without
// closing them (as a sleeping laptop or a dead NAT entry would), block() refuses new ones.
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
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  frozenUp: boolean;
  frozenDown: boolean;
}

export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let blocked = false;
  const host = target.host ?? "127.0.0.1";
  const server = net.createServer((client) => {
    proxy.accepted++;
    if (blocked) return void client.destroy();
    const upstream = net.connect(target.port, host);
    const pair: Pair = { client, upstream, frozenUp: false, frozenDown: false };
    pairs.add(pair);
    client.on("data", (chunk) => {
      if (!pair.frozenUp && !upstream.destroyed) upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (!pair.frozenDown && !client.destroyed) client.write(chunk);
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
    async close() {
      proxy.cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
