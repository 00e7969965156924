// Edit and delete through the SDK, against the contract in protocol/frames.ts (EditFrame and
// DeleteFrame with op_id; `op_ack`; `update` frames; Message.status / rev; after_rev on resume).
import { describe, expect, it } from "vitest";
import type { FailedEvent, Message, OpAck } from "./index.js";
import { signedUp, until, useEdgeBehindProxy } from "../test/support/chat-clients.js";

const stack = useEdgeBehindProxy();
const edge = stack.edge;
const open = stack.open;

/** A (the sender) straight to the edge, B through the proxy; their direct room open on both. */
async function pair() {
  const a = await signedUp(edge.url);
  const b = await signedUp(stack.proxy.url);
  open.push(a.chat, b.chat);
  const ra = await a.chat.openDirect(b.user.id);
  const rb = await b.chat.openRoom(ra.id);
  const updates: Array<{ rev: number; message: Message }> = [];
  const messages: Message[] = [];
  rb.on("update", (u) => updates.push(u));
  rb.on("message", (m) => messages.push(m));
  return { a, b, ra, rb, updates, messages };
}

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: nothing in ${ms} ms`)), ms)),
  ]);

describe("edit and delete through the SDK", () => {
  it("edit and remove resolve with their op_ack; the other side gets each update with the current version", async () => {
    const { ra, rb, updates, messages } = await pair();
    const sent = await ra.send({ body: "first draft" });
    await until(() => messages.length === 1, 5000, "B has the message");

    const edited: OpAck = await within(ra.edit(sent.seq, "final text"), 5000, "op_ack of the edit");
    expect(edited).toMatchObject({ room_id: ra.id, seq: sent.seq });
    expect(edited.duplicate ?? false).toBe(false);
    await until(() => updates.length === 1, 5000, "B's update of the edit");
    expect(updates[0]).toMatchObject({
      rev: edited.rev,
      message: { seq: sent.seq, body: "final text", status: "edited" },
    });

    const removed = await within(ra.remove(sent.seq), 5000, "op_ack of the delete");
    expect(removed.rev).toBeGreaterThan(edited.rev);
    await until(() => updates.length === 2, 5000, "B's update of the delete");
    expect(updates[1]).toMatchObject({ rev: removed.rev, message: { seq: sent.seq, body: "", status: "deleted" } });
    // what each side holds is the current version; the seq stays, nothing took a new one
    expect(rb.messages().map((m) => [m.seq, m.status, m.body])).toEqual([[sent.seq, "deleted", ""]]);
    expect(messages).toHaveLength(1);
    const next = await ra.send({ body: "next" });
    expect(next.seq).toBe(sent.seq + 1);
  });

  it("a client that was away learns of the edits and deletes of messages it holds when it resumes (after_rev)", async () => {
    const { ra, rb, b, updates, messages } = await pair();
    const one = await ra.send({ body: "one" });
    const two = await ra.send({ body: "two" });
    await until(() => messages.length === 2, 5000, "B has both");
    stack.proxy.block(true);
    stack.proxy.cut();
    await until(() => rb.state === "reconnecting", 5000, "B lost its stream");
    const e = await within(ra.edit(one.seq, "one, edited"), 5000, "edit");
    const d = await within(ra.remove(two.seq), 5000, "delete");
    stack.proxy.block(false);
    await until(() => updates.length === 2, 15_000, "B's two updates after resuming");
    expect(updates.map((u) => [u.rev, u.message.seq, u.message.status])).toEqual([
      [e.rev, one.seq, "edited"],
      [d.rev, two.seq, "deleted"],
    ]);
    expect(rb.messages().map((m) => [m.seq, m.body, m.status])).toEqual([
      [one.seq, "one, edited", "edited"],
      [two.seq, "", "deleted"],
    ]);
    // resumed, not replayed from scratch: the messages themselves came once
    expect(messages).toHaveLength(2);
    expect(b.chat.stats().rooms[ra.id]?.opens).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it("an edit whose op_ack was lost is resent with the same op_id and applied once (duplicate)", async () => {
    const { ra, rb, updates } = await pair();
    const sent = await rb.send({ body: "typo" });
    await until(() => ra.messages().length === 1, 5000, "A has B's message");
    // B edits with its answers lost on the way down, then its connections are cut
    stack.proxy.freeze("down");
    const edit = rb.edit(sent.seq, "fixed");
    edit.catch(() => {}); // awaited below; a failure before that must not go unhandled
    const aUpdates: Array<{ rev: number }> = [];
    ra.on("update", (u) => aUpdates.push(u));
    await until(() => aUpdates.length === 1, 5000, "the edit applied (A saw it)");
    stack.proxy.cut();
    const ack = await within(edit, 15_000, "the resent edit's op_ack");
    expect(ack).toMatchObject({ seq: sent.seq, rev: aUpdates[0]!.rev, duplicate: true });
    await new Promise((r) => setTimeout(r, 500));
    expect(aUpdates).toHaveLength(1); // applied once: no second rev
    expect(rb.messages()[0]).toMatchObject({ body: "fixed", status: "edited" });
    expect(updates.filter((u) => u.message.seq === sent.seq).length).toBeLessThanOrEqual(1);
  }, 30_000);

  it("an edit of someone else's message is refused: the item fails with the reason, and cancel() drops it", async () => {
    const { ra, rb, messages } = await pair();
    const sent = await ra.send({ body: "mine" });
    await until(() => messages.length === 1, 5000, "B has it");
    const failed: string[] = [];
    rb.on("failed", ({ error }) => failed.push(error.code));
    await expect(within(rb.edit(sent.seq, "not yours"), 5000, "refusal")).rejects.toMatchObject({ code: "forbidden" });
    expect(failed).toEqual(["forbidden"]);
    const [item] = rb.pending();
    expect(item).toMatchObject({ kind: "edit", status: "failed", error: { code: "forbidden" } });
    await rb.cancel(item!.id);
    expect(rb.pending()).toEqual([]);
  });

  it("a refused item waits as failed; retry() queues it again (same id) and resolves with its ack once the room takes it", async () => {
    const { ra, messages, updates } = await pair();
    const failed: FailedEvent[] = [];
    ra.on("failed", (f) => failed.push(f));
    const one = await ra.send({ body: "one" });

    // the room refuses a reply to a message it does not have yet: refused after it was queued and sent
    await expect(
      within(ra.send({ body: "re: two", reply_to_seq: one.seq + 1 }), 5000, "refusal"),
    ).rejects.toMatchObject({ code: "invalid" });
    const [reply] = ra.pending();
    expect(reply).toMatchObject({ kind: "send", status: "failed", error: { code: "invalid" } });
    const two = await within(ra.send({ body: "two" }), 5000, "the send after the failed item");
    const ack = await within(ra.retry(reply!.id), 5000, "ack of the retried send");
    expect(ack).toMatchObject({ client_message_id: reply!.id, seq: two.seq + 1 });
    expect(ra.pending()).toEqual([]);
    await until(() => messages.length === 3, 5000, "B has all three");
    expect(messages[2]).toMatchObject({ seq: two.seq + 1, body: "re: two", reply_to_seq: two.seq });

    // an edit of a seq not there yet: not_found; the failed event's retry() once it is there
    const next = two.seq + 2;
    await expect(within(ra.edit(next, "four, edited"), 5000, "refusal")).rejects.toMatchObject({ code: "not_found" });
    expect(failed.map((f) => [f.item.kind, f.error.code])).toEqual([
      ["send", "invalid"],
      ["edit", "not_found"],
    ]);
    expect((await ra.send({ body: "four" })).seq).toBe(next);
    const opAck = (await within(failed[1]!.retry(), 5000, "op_ack of the retried edit")) as OpAck;
    expect(opAck).toMatchObject({ op_id: failed[1]!.item.id, seq: next });
    await until(() => updates.length === 1, 5000, "B's update of the edit");
    expect(updates[0]).toMatchObject({ rev: opAck.rev, message: { seq: next, body: "four, edited" } });
    expect(ra.pending()).toEqual([]);
  });
});
