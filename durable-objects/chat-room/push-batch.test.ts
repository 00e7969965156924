import { describe, expect, it } from "vitest";
import { PUSH_BATCH_MAX_BYTES, PushBatch, type Message } from "../../protocol/index.js";
import { buildPushBatch, DEFAULT_PUSH, preview, pushAudience, type PushMember } from "./push-batch.js";

const ROOM = "00000000-0000-4000-8000-00000000000a";
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const SENDER = id(999);

const msg = (seq: number, over: Partial<Message> = {}): Message => ({
  room_id: ROOM,
  seq,
  message_id: `m${seq}`,
  sender_id: SENDER,
  client_message_id: `c${seq}`,
  body: `message ${seq}`,
  mentions: [],
  mention_all: false,
  created_at: new Date(1_700_000_000_000 + seq).toISOString(),
  ...over,
});
const member = (n: number, over: Partial<PushMember> = {}): PushMember => ({
  user_id: id(n),
  joined_seq: 0,
  read_seq: 0,
  delivered_seq: 0,
  pushed_seq: 0,
  subscribed: false,
  ...over,
});
const meta = { room_id: ROOM, type: "group" as const, last_seq: 10, name: "the team" };
const input = (
  members: PushMember[],
  messages: Message[],
  over: Partial<Parameters<typeof buildPushBatch>[0]> = {},
) => ({
  batchId: `${ROOM}:1:2`,
  meta,
  messages,
  members,
  streaming: new Set<string>(),
  reads: [],
  ...over,
});

describe("preview", () => {
  it("keeps the first code points, never half an emoji", () => {
    expect(preview("hello", 3)).toBe("hel");
    expect(preview("😀😀😀", 2)).toBe("😀😀");
    expect(preview("😀".repeat(300), DEFAULT_PUSH.previewMaxChars)).toHaveLength(400); // 200 code points, 400 UTF-16 units
    expect(preview("", 5)).toBe("");
  });
});

describe("pushAudience", () => {
  it("is the offline members with something still to hear of: not online, not streaming, not already had", () => {
    const members = [
      member(1), // offline: in
      member(2, { subscribed: true }), // online session
      member(3), // streaming (below)
      member(4, { delivered_seq: 5 }), // an activity or a stream had it all
      member(5, { read_seq: 5 }),
      member(6, { pushed_seq: 5 }), // pushed before
      member(7, { joined_seq: 5 }), // joined after it
      member(8, { delivered_seq: 4 }), // had 4, not 5
      { ...member(999) }, // the sender of every message
    ];
    const who = pushAudience(members, new Set([id(3)]), [msg(4), msg(5)]);
    expect(who).toEqual({ user_ids: [id(1), id(8)], quiet: [] });
  });

  it("names muted and hidden members only for a message that mentions them (mention_all too), as quiet", () => {
    const members = [member(1, { muted: true }), member(2, { hidden: true }), member(3, { muted: true })];
    expect(pushAudience(members, new Set(), [msg(1)])).toEqual({ user_ids: [], quiet: [] });
    expect(pushAudience(members, new Set(), [msg(1), msg(2, { mentions: [id(1)] })])).toEqual({
      user_ids: [id(1)],
      quiet: [id(1)],
    });
    expect(pushAudience(members, new Set(), [msg(3, { mention_all: true })])).toEqual({
      user_ids: [id(1), id(2), id(3)],
      quiet: [id(1), id(2), id(3)],
    });
    // their own mention_all is nothing to them
    expect(
      pushAudience([member(1, { muted: true })], new Set(), [msg(4, { sender_id: id(1), mention_all: true })]),
    ).toEqual({ user_ids: [], quiet: [] });
  });
});

describe("buildPushBatch", () => {
  it("names the offline audience in a room of 100 members, and who to leave out in one of 101", () => {
    const hundred = Array.from({ length: 100 }, (_, i) => member(i, { subscribed: i < 10 }));
    hundred[50] = member(50, { muted: true });
    const small = buildPushBatch(input(hundred, [msg(1, { mentions: [id(50)] })])).batch!;
    expect(PushBatch.parse(small)).toEqual(small);
    expect(small.audience).toMatchObject({ mode: "only", quiet: [id(50)] });
    expect(small.audience!.user_ids).toHaveLength(90);
    expect(small.audience!.user_ids).not.toContain(id(3));

    const large = [...hundred, member(100, { subscribed: true })];
    const big = buildPushBatch(input(large, [msg(1)]), DEFAULT_PUSH);
    expect(PushBatch.parse(big.batch)).toEqual(big.batch);
    // the online ones (0-9, 100) and the muted one no message mentions
    expect(big.batch!.audience).toEqual({
      mode: "except",
      user_ids: [...Array.from({ length: 10 }, (_, i) => id(i)), id(50), id(100)],
    });
    expect(big.audience).toHaveLength(89);
  });

  it("carries the room, its last seq, the messages oldest first with their previews and mentions", () => {
    const long = "x".repeat(500);
    const built = buildPushBatch(
      input([member(1)], [msg(3, { body: long, mentions: [id(1)] }), msg(2, { mention_all: true })]),
    );
    expect(built.batch).toMatchObject({
      batch_id: `${ROOM}:1:2`,
      room_id: ROOM,
      room_type: "group",
      room_name: "the team",
      last_seq: 10,
      audience: { mode: "only", user_ids: [id(1)], quiet: [] },
    });
    expect(built.batch!.messages.map((m) => [m.seq, m.preview.length, m.mentions, m.mention_all])).toEqual([
      [2, "message 2".length, [], true],
      [3, 200, [id(1)], false],
    ]);
    expect(built.batch!.messages[0]).toEqual({
      seq: 2,
      sender_id: SENDER,
      preview: "message 2",
      mentions: [],
      mention_all: true,
      created_at: msg(2).created_at,
    });
    expect(built.lastSeq).toBe(3);
    expect(built.audience).toEqual([id(1)]);
  });

  it("reports the newest read of each member, and where each member of the audience has read to", () => {
    const built = buildPushBatch(
      input(
        [member(1, { read_seq: 2 }), member(2, { subscribed: true }), member(3, { joined_seq: 4, read_seq: 1 })],
        [msg(5)],
        {
          reads: [
            { user_id: id(2), read_seq: 3 },
            { user_id: id(2), read_seq: 7 },
            { user_id: id(2), read_seq: 6 },
          ],
        },
      ),
    );
    expect(PushBatch.parse(built.batch)).toBeTruthy();
    expect(built.batch!.reads).toEqual([
      { user_id: id(2), read_seq: 7 },
      { user_id: id(1), read_seq: 2 },
      { user_id: id(3), read_seq: 4 },
    ]);
  });

  it("keeps reads within the relay's bound, members' first", () => {
    const members = Array.from({ length: 1000 }, (_, i) => member(i, { subscribed: true }));
    const reads = [
      ...Array.from({ length: 5 }, (_, i) => ({ user_id: id(5000 + i), read_seq: 1 })), // left the room since
      ...members.map((m) => ({ user_id: m.user_id, read_seq: 1 })),
    ];
    const batch = buildPushBatch(input(members, [], { reads })).batch!;
    expect(batch.reads).toHaveLength(1000);
    expect(batch.reads.every((r) => members.some((m) => m.user_id === r.user_id))).toBe(true);
    expect(PushBatch.safeParse(batch).success).toBe(true);
  });

  it("sends nothing when nobody is to be pushed and no read moved, and only the reads when just they did", () => {
    const online = [member(1, { subscribed: true })];
    expect(buildPushBatch(input(online, [msg(1)]))).toEqual({ batch: null, audience: [], lastSeq: null, left: [] });
    const reads = buildPushBatch(input(online, [msg(1)], { reads: [{ user_id: id(1), read_seq: 1 }] }));
    expect(reads.batch).toMatchObject({ messages: [], audience: null, reads: [{ user_id: id(1), read_seq: 1 }] });
    expect(PushBatch.safeParse(reads.batch).success).toBe(true);
    expect(reads.lastSeq).toBeNull();
  });

  it("takes the oldest messages waiting, within the count and the relay's byte bound, and says which are left", async () => {
    // an early mention of a muted member stays in: a batch of the newest would have lost it
    const many = Array.from({ length: 150 }, (_, i) => msg(i + 1, i === 0 ? { mentions: [id(2)] } : {}));
    const members = [member(1), member(2, { muted: true })];
    const counted = buildPushBatch(input(members, many));
    expect(counted.batch!.messages.map((m) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(counted.batch!.audience).toEqual({ mode: "only", user_ids: [id(1), id(2)], quiet: [id(2)] });
    expect(counted.left).toEqual(Array.from({ length: 50 }, (_, i) => 101 + i));
    expect(counted.lastSeq).toBe(100);
    // the queue's order, not the seqs', says which are oldest (a seq queued again waits its turn)
    const requeued = buildPushBatch(input([member(1)], [msg(5), msg(6), msg(2)]), { ...DEFAULT_PUSH, maxMessages: 2 });
    expect(requeued.batch!.messages.map((m) => m.seq)).toEqual([5, 6]);
    expect(requeued.left).toEqual([2]);

    // 100 mentions and a 200-emoji preview each: far more than the relay takes in one body
    const mentions = Array.from({ length: 100 }, (_, i) => id(i));
    const heavy = Array.from({ length: 100 }, (_, i) => msg(i + 1, { body: "😀".repeat(300), mentions }));
    const hundred = Array.from({ length: 100 }, (_, i) => member(i));
    const cut = buildPushBatch(input(hundred, heavy));
    const size = new TextEncoder().encode(JSON.stringify(cut.batch)).length;
    expect(size).toBeLessThanOrEqual(PUSH_BATCH_MAX_BYTES);
    const sent = cut.batch!.messages.map((m) => m.seq);
    expect(sent.length).toBeGreaterThan(10);
    expect(sent.length).toBeLessThan(100);
    expect(sent).toEqual(Array.from({ length: sent.length }, (_, i) => i + 1));
    expect(cut.left).toEqual(Array.from({ length: 100 - sent.length }, (_, i) => sent.length + 1 + i));
    expect(PushBatch.safeParse(cut.batch).success).toBe(true);
    // nothing left when everything fits, nor when nobody is to hear of any of it
    expect(buildPushBatch(input([member(1)], [msg(1), msg(2)])).left).toEqual([]);
    expect(buildPushBatch(input([member(1, { subscribed: true })], many.slice(0, 100))).left).toEqual([]);
  });

  it("measures the frame again after a cut: fewer messages can leave more members out in a large room", () => {
    // 1,000 members with a moved read each (so the reads do not shrink with the audience), 900
    // muted: the newest messages mention 800 of those, so a cut that drops them names 800 more
    // members to leave out (31 KB) than the first measure counted
    const members = Array.from({ length: 1000 }, (_, i) => member(i, { muted: i >= 100 }));
    const reads = members.map((m) => ({ user_id: m.user_id, read_seq: 0 }));
    const muted = members.slice(100).map((m) => m.user_id);
    const plain = Array.from({ length: 60 }, (_, i) => msg(i + 1, { body: "😀".repeat(200) }));
    const loud = Array.from({ length: 40 }, (_, i) =>
      msg(61 + i, { body: "😀".repeat(200), mentions: muted.slice(i * 20, i * 20 + 20) }),
    );
    const built = buildPushBatch(input(members, [...plain, ...loud], { reads }), {
      ...DEFAULT_PUSH,
      maxBytes: 120_000,
    });
    expect(built.batch!.audience).toMatchObject({ mode: "except" });
    expect(built.batch!.audience!.user_ids.length).toBeGreaterThan(800);
    const size = new TextEncoder().encode(JSON.stringify(built.batch)).length;
    expect(size).toBeLessThanOrEqual(120_000);
    expect(built.left).toEqual(Array.from({ length: built.left.length }, (_, i) => 101 - built.left.length + i));
    expect(PushBatch.safeParse(built.batch).success).toBe(true);
  });

  it("never pushes a deleted message, and names the seqs deleted since the last batch", () => {
    const deleted = msg(2, { body: "", status: "deleted", updated_at: new Date(0).toISOString(), rev: 1 });
    const built = buildPushBatch(input([member(1)], [msg(1), deleted, msg(3)], { deleted: [2, 2, 1] }));
    expect(built.batch!.messages.map((m) => m.seq)).toEqual([1, 3]);
    expect(built.batch!.deleted_seqs).toEqual([1, 2]);
    expect(PushBatch.safeParse(built.batch).success).toBe(true);
    // only deletes: a batch of its own, for the relay to clear what it shows
    const onlyDeletes = buildPushBatch(input([member(1)], [deleted], { deleted: [2] }));
    expect(onlyDeletes.batch).toMatchObject({ messages: [], audience: null, reads: [], deleted_seqs: [2] });
    expect(onlyDeletes.lastSeq).toBeNull();
    expect(PushBatch.safeParse(onlyDeletes.batch).success).toBe(true);
    // a batch with nothing deleted says nothing of it
    expect(buildPushBatch(input([member(1)], [msg(1)])).batch).not.toHaveProperty("deleted_seqs");
    expect(buildPushBatch(input([member(1)], [deleted]))).toEqual({
      batch: null,
      audience: [],
      lastSeq: null,
      left: [],
    });
  });
});
