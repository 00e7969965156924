// The archive sink's secret, end to end: a room that the sink refuses says so and counts it (the
// outbox keeps every message), and a room configured to archive unsafely does not start.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSink, type RunningSink } from "../../cassandra-sink/index.js";
import { closeDb } from "../../test/support/api.js";
import { startEdge, testEdgeOptions, type Edge } from "../../test/support/edge.js";
import { eventually, openStream } from "../../test/support/sockets.js";
import { group, people, type Seeded } from "../../test/support/rooms.js";
import { freePort } from "../../test/support/ports.js";

interface Inspected {
  outbox: Record<string, number>;
  sink: { unauthorized: number; refusing: boolean } | null;
}

let dir: string;
let sink: RunningSink;
let port: number;
const edges: Edge[] = [];

async function edgeWith(vars: Record<string, string>): Promise<Edge> {
  const e = await startEdge(testEdgeOptions(vars));
  edges.push(e);
  return e;
}

async function inspect(edge: Edge, roomId: string): Promise<Inspected> {
  const ns = await edge.mf.getDurableObjectNamespace("CHAT_ROOM");
  return (ns.get(ns.idFromName(roomId)) as unknown as { inspect(): Promise<Inspected> }).inspect();
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "edge-chat-sink-auth-"));
  port = await freePort();
  sink = await startSink({
    secret: "the-right-secret-0123456789",
    port,
    host: "127.0.0.1",
    store: { kind: "sqlite", path: path.join(dir, "archive.sqlite"), purgeIntervalMs: 60_000 },
    log: () => {},
  });
}, 60_000);
afterAll(async () => {
  for (const e of edges) await e.close();
  await sink?.stop();
  await closeDb();
  rmSync(dir, { recursive: true, force: true });
});

describe("the sink's secret", () => {
  it("a refused secret is counted in the room's inspect(), and the outbox keeps what it could not hand on", async () => {
    const edge = await edgeWith({
      SINK_URL: `http://127.0.0.1:${port}`,
      SINK_SECRET: "a-wrong-secret",
      ARCHIVE_FLUSH_MS: "50",
      ARCHIVE_RETRY_MAX_SECONDS: "1",
    });
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await group(edge, a, [b]);
    const s = await openStream(edge, a, room.id);
    s.send({ type: "send", room_id: room.id, client_message_id: "m1", body: "keep me" });
    await s.takeType("ack");
    const seen = await eventually(async () => {
      const i = await inspect(edge, room.id);
      return (i.sink?.unauthorized ?? 0) >= 2 ? i : null;
      // what is counted, not how fast: two tries at most 1 s apart took over 10 s in a loaded full run
    }, 25_000);
    expect(seen.sink).toMatchObject({ refusing: true });
    expect(seen.outbox.message).toBe(1);
    await s.close();
  }, 45_000);

  it("a room refuses to start archiving with an empty SINK_SECRET or a plain-http sink elsewhere", async () => {
    for (const vars of [
      { SINK_URL: `http://127.0.0.1:${port}`, SINK_SECRET: "" },
      { SINK_URL: "http://192.0.2.10:8790", SINK_SECRET: "a-secret" },
    ]) {
      const edge = await edgeWith(vars);
      // the object does not start: nothing runs (or archives) on a configuration nobody chose
      await expect(inspect(edge, "00000000-0000-4000-8000-0000000000aa")).rejects.toThrow(/SINK_SECRET|SINK_URL/);
    }
  });
});
