// A TCP proxy in front of the edge for one person's browser: the app loads through it, so its
// HTTP requests and WebSockets all pass here, and the test can take the network away. Chrome's
// offline emulation does not close WebSockets that are already open; cutting the TCP
// connections does, the way a dropped Wi-Fi or a sleeping laptop does.
import net from "node:net";

export interface CutProxy {
  /** e.g. http://127.0.0.1:41234: where the browser opens the app */
  url: string;
  /** live connections right now */
  readonly open: number;
  /** destroys every open connection and refuses new ones until restore() */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startCutProxy(target: string): Promise<CutProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  let down = false;
  const server = net.createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(port), hostname);
    const pair = [client, upstream];
    for (const s of pair) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        sockets.delete(s);
        for (const other of pair) other.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    get open() {
      return sockets.size;
    },
    cut() {
      down = true;
      // resetAndDestroy: an RST, as a network that went away, not a polite FIN
      for (const s of sockets) s.resetAndDestroy();
    },
    restore() {
      down = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
