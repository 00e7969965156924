// A local stand-in for the push-relay's POST /v1/batches, checking what the real one checks: the
// Bearer secret (401), the body bound (413) and the PushBatch schema from protocol/push.ts (400).
// It records each batch it took (a batch_id seen before answers `duplicate`, as the relay does),
// and can be told to answer 500 or to go away entirely (connections refused) and come back.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { PUSH_BATCH_MAX_BYTES, PushBatch } from "../../protocol/index.js";

export interface RelayStandIn {
  readonly url: string;
  /** batches taken (200), in order; duplicates are not repeated here */
  readonly batches: PushBatch[];
  /** every request, with the answer it got */
  readonly requests: Array<{ at: number; status: number; roomId?: string }>;
  /** what it answers a well-formed, authenticated batch with: 200, or e.g. 500 */
  answer: number;
  /** the secret it takes */
  secret: string;
  /** batches of one room */
  of(roomId: string): PushBatch[];
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startRelayStandIn(secret: string, port = 0): Promise<RelayStandIn> {
  const taken = new Set<string>();
  const batches: PushBatch[] = [];
  const requests: RelayStandIn["requests"] = [];
  let server: http.Server | null = null;

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, self: RelayStandIn) => {
    const reply = (status: number, body: unknown, roomId?: string) => {
      requests.push({ at: Date.now(), status, ...(roomId ? { roomId } : {}) });
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    };
    if (req.method !== "POST" || req.url !== "/v1/batches") return reply(404, { error: "not found" });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > PUSH_BATCH_MAX_BYTES) return reply(413, { error: "too large" });
      chunks.push(chunk);
    }
    if (req.headers.authorization !== `Bearer ${self.secret}`) return reply(401, { error: "unauthorized" });
    let json: unknown;
    try {
      json = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return reply(400, { error: "not JSON" });
    }
    const parsed = PushBatch.safeParse(json);
    if (!parsed.success) return reply(400, { error: parsed.error.message });
    const batch = parsed.data;
    if (self.answer !== 200) return reply(self.answer, { error: "stand-in says no" }, batch.room_id);
    const duplicate = taken.has(batch.batch_id);
    if (!duplicate) {
      taken.add(batch.batch_id);
      batches.push(batch);
    }
    reply(
      200,
      { batch_id: batch.batch_id, notifications: batch.messages.length, ...(duplicate ? { duplicate } : {}) },
      batch.room_id,
    );
  };

  const listen = async (self: RelayStandIn, at: number) => {
    const s = http.createServer((req, res) => {
      handle(req, res, self).catch((err: unknown) => res.writeHead(500).end(String(err)));
    });
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(at, "127.0.0.1", resolve);
    });
    server = s;
    return (s.address() as AddressInfo).port;
  };
  const stop = async () => {
    const s = server;
    server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  };

  const self: RelayStandIn = {
    url: "",
    batches,
    requests,
    answer: 200,
    secret,
    of: (roomId) => batches.filter((b) => b.room_id === roomId),
    down: stop,
    up: async () => void (await listen(self, bound)),
    close: stop,
  };
  const bound = await listen(self, port);
  (self as { url: string }).url = `http://127.0.0.1:${bound}`;
  return self;
}
