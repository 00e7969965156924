// What closing N sockets at once costs one object (a removal, a room deleted, a suspension):
// SocketHost.closeWhere over N held sockets, one per user (a room deleted with every member's
// stream open), with the room's onGone asking whether each leaving socket's user still holds one. The host runs over a stand-in for the runtime's
// socket API (no workerd: this measures the host's own bookkeeping, which was N² before).
//   npx tsx bench/close-sockets.ts [--max 16000]
import { parseArgs } from "node:util";
import { CloseCode, SocketHost } from "../durable-objects/shared/sockets.js";

const { values } = parseArgs({ options: { max: { type: "string", default: "16000" } } });

class StandInSocket {
  private a: unknown = null;
  send() {}
  close() {}
  serializeAttachment(a: unknown) {
    this.a = structuredClone(a);
  }
  deserializeAttachment() {
    return this.a;
  }
}
(globalThis as unknown as { WebSocketPair: unknown }).WebSocketPair = class {
  0 = new StandInSocket();
  1 = new StandInSocket();
};

function run(n: number): number {
  const held: StandInSocket[] = [];
  const ctx = {
    acceptWebSocket: (ws: StandInSocket) => void held.push(ws),
    getWebSockets: () => held,
    getWebSocketAutoResponseTimestamp: () => null,
  } as unknown as DurableObjectState;
  const host: SocketHost = new SocketHost(ctx, {
    silentMs: 60_000,
    verify: async () => null,
    onGone: (info) => void host.hasUser(info.userId),
    wake: () => {},
  });
  for (let i = 0; i < n; i++) {
    const claims = {
      user_id: `u${i}`,
      device_id: "d",
      ticket_id: `t${i}`,
      ticket_expires_at: 0,
      token_expires_at: Date.now() + 3600_000,
    };
    host.acceptTicketed(claims, () => true, Date.now());
  }
  const t0 = performance.now();
  host.closeWhere(() => true, CloseCode.roomGone, "the room no longer exists");
  return performance.now() - t0;
}

console.log("sockets   closeWhere ms   µs per socket");
for (let n = 1000; n <= Number(values.max); n *= 2) {
  run(n); // warm-up
  const ms = Math.min(run(n), run(n), run(n));
  console.log(`${String(n).padStart(7)} ${ms.toFixed(1).padStart(15)} ${((ms * 1000) / n).toFixed(2).padStart(15)}`);
}
