// Edits and deletes made while a client was away, against the real edge: the resume cursor
// (after_rev, client/rev-cursor.ts) must never pass a change the client does not hold, whatever
// frame of the replay the connection is cut at. A (the one away) reaches the edge through a proxy
// that can cut its stream right before a chosen frame; B, who makes the changes, goes straight.
import { describe, expect, it } from "vitest";
import { MAX_REPLAY } from "../protocol/index.js";
import type { Message } from "./index.js";
import { UncompressedWebSocket, signedUp, until, useEdgeBehindProxy } from "../test/support/chat-clients.js";

// a frame and send budget per socket that 500-odd edits in a row stay inside
const stack = useEdgeBehindProxy({
  SEND_RATE_PER_SECOND: "10000",
  SEND_BURST: "10000",
  FRAME_RATE_PER_SECOND: "10000",
  FRAME_BURST: "10000",
});
const edge = stack.edge;
const open = stack.open;

/**
 * A (through the proxy, retrying within a second, its frames readable there) and B share a direct
 * room; A records what it hears. A reads one frame per message (batchFrames: false) so the proxy
 * can cut between any two frames of a replay: with batches a cut falls between arrays instead,
 * which a replay over one array's bound (~256 K characters) meets the same way.
 */
async function pair() {
  const a = await signedUp(stack.proxy.url, {
    backoff: { maxMs: 1000 },
    WebSocket: UncompressedWebSocket,
    batchFrames: false,
  });
  const b = await signedUp(edge.url);
  open.push(a.chat, b.chat);
  const ra = await a.chat.openDirect(b.user.id);
  const rb = await b.chat.openRoom(ra.id);
  const messages: Message[] = [];
  const updates: Array<{ rev: number; message: Message }> = [];
  ra.on("message", (m) => messages.push(m));
  ra.on("update", (u) => updates.push(u));
  return { a, b, ra, rb, messages, updates };
}

/** A's connections are cut and refused until the returned function lets them through again. */
async function away(room: { state: string }): Promise<() => void> {
  stack.proxy.block(true);
  stack.proxy.cut();
  await until(() => room.state === "reconnecting", 5000, "A lost its stream");
  return () => stack.proxy.block(false);
}

const isUpdateOf = (roomId: string) => (text: string) =>
  text.startsWith('{"type":"update"') && text.includes(`"room_id":"${roomId}"`);

describe("changes made while a client was away", () => {
  it("a replay cut after its messages, before the updates to older ones: the resume still brings those updates", async () => {
    const { ra, rb, messages, updates } = await pair();
    const one = await rb.send({ body: "one" });
    await rb.send({ body: "two" });
    await until(() => messages.length === 2, 5000, "A holds 1 and 2");

    const back = await away(ra);
    const three = await rb.send({ body: "three" });
    const old = await rb.edit(one.seq, "one, edited");
    const recent = await rb.edit(three.seq, "three, edited");
    // the replay sends 3 as it is now (rev `recent`), then the update of 1 (rev `old`, lower)
    expect(recent.rev).toBeGreaterThan(old.rev);
    const cut = stack.proxy.cutBeforeFrame(isUpdateOf(ra.id));
    back();
    await cut;
    // what came before the cut still arrives: 3, as it is now
    await until(() => messages.length === 3, 5000, "A has 3 from the cut replay");
    expect(messages.map((m) => [m.seq, m.body, m.rev])).toContainEqual([three.seq, "three, edited", recent.rev]);
    expect(updates).toEqual([]);

    await until(() => updates.length === 1, 15_000, "the edit of 1 after the next resume");
    expect(updates[0]).toMatchObject({
      rev: old.rev,
      message: { seq: one.seq, body: "one, edited", status: "edited" },
    });
    expect(ra.messages().map((m) => m.body)).toEqual(["one, edited", "two", "three, edited"]);
    expect(messages).toHaveLength(3);
  }, 30_000);

  it("more changes than a replay carries (MAX_REPLAY): every one is seen, also when that replay is cut among its updates", async () => {
    const { ra, rb, messages, updates } = await pair();
    const n = MAX_REPLAY + 5;
    const seqs = Array.from({ length: n }, (_, i) => i + 1);
    await Promise.all(seqs.map((i) => rb.send({ body: `m${i}` })));
    await until(() => messages.length === n, 30_000, `A holds all ${n}`);

    /** A is away while B edits every message (in seq order, so the oldest changes are the ones a replay leaves out). */
    const editAll = async (version: string) => {
      const back = await away(ra);
      await Promise.all(seqs.map((i) => rb.edit(i, `m${i} ${version}`)));
      return back;
    };
    const seen = async (version: string) => {
      await until(() => updates.length === n, 30_000, `A's ${n} updates (${version})`).catch((err: Error) => {
        throw new Error(`${err.message}: ${updates.length} came, first ${updates[0]?.message.seq}`);
      });
      await new Promise((r) => setTimeout(r, 300)); // a repeat would come now
      expect(updates.map((u) => u.message.seq).sort((a, b) => a - b)).toEqual(seqs);
      expect(updates.every((u) => u.message.body === `m${u.message.seq} ${version}` && u.rev === u.message.rev)).toBe(
        true,
      );
      expect(ra.messages().map((m) => m.body)).toEqual(seqs.map((i) => `m${i} ${version}`));
      updates.length = 0;
    };

    // 1: the replay sends the newest MAX_REPLAY changes and synced.updates_has_more; the SDK
    // reloads the messages it holds over HTTP for the oldest ones
    (await editAll("v1"))();
    await seen("v1");

    // 2: the same, with the replay cut after its first update frame (the change to seq 6, far
    // above after_rev): the next resume still starts from before the changes left out
    const back = await editAll("v2");
    let frames = 0;
    const cut = stack.proxy.cutBeforeFrame((text) => isUpdateOf(ra.id)(text) && ++frames === 2);
    back();
    await cut;
    await seen("v2");
    expect(messages).toHaveLength(n);
  }, 120_000);
});
