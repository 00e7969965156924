// The push outbox's flush against the room's own store over a real SQLite (no runtime): the window,
// the batch a retry resends, backoff, parking, reads, and what settles without a request.
import { afterEach, describe, expect, it, vi } from "vitest";
import { PUSH_BATCH_MAX_DELETES, PushBatch } from "../../protocol/index.js";
import { roomMember } from "../../test/support/room-member.js";
import { memorySql } from "../../test/support/sqlite-storage.js";
import { TimeUuidGenerator } from "../shared/timeuuid.js";
import { backoffMs } from "./outbox.js";
import type { PushAnswer } from "./push-client.js";
import { DEFAULT_PUSH_FLUSH, PushFlusher } from "./push-flusher.js";
import { RoomStore } from "./store.js";

const ROOM = "00000000-0000-4000-8000-00000000000a";
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const [A, B, C] = [id(1), id(2), id(3)];

function room(
  opts: {
    answers?: number[];
    random?: () => number;
    settings?: Partial<typeof DEFAULT_PUSH_FLUSH>;
    muted?: string[];
  } = {},
) {
  const store = new RoomStore(memorySql());
  store.setMeta({ room_id: ROOM, type: "group", version: 1, active: true, last_seq: 0 });
  for (const user_id of [A, B, C]) {
    store.upsertMember(roomMember(user_id, { muted: opts.muted?.includes(user_id) ?? false }));
  }
  const answers = opts.answers ?? [];
  const posted: PushBatch[] = [];
  const streaming = new Set<string>();
  let now = 0;
  const ids = new TimeUuidGenerator();
  const flusher = new PushFlusher(
    {
      meta: () => store.meta(),
      relay: {
        postBatch: async (b): Promise<PushAnswer> => {
          posted.push(PushBatch.parse(b)); // what the relay would take
          const status = answers.length ? answers.shift()! : 200;
          return status === 200
            ? { status, detail: "", answer: { batch_id: b.batch_id, notifications: 1 } }
            : { status, detail: "no" };
        },
      },
      outbox: {
        head: () => store.outbox.pushHead(),
        retried: () => store.outbox.retriedPush(),
        nextCut: (max) => store.outbox.nextPushCut(max),
        cutBefore: (id) => store.outbox.pushCutBefore(id),
        claim: (cut) => store.outbox.claimPush(cut),
        rows: (cut) => store.outbox.pushRows(cut),
        settle: (cut) => store.outbox.settlePush(cut),
        requeue: (seqs, now) => store.outbox.requeuePush(seqs, now),
        defer: (cut, at) => store.outbox.deferPush(cut, at),
        park: (cut) => store.outbox.parkPush(cut),
      },
      message: (seq) => store.messages.message(ROOM, seq),
      members: () => store.members(),
      streaming: () => streaming,
      markPushed: (users, seq) => store.markPushed(users, seq),
      transaction: (fn) => fn(),
      wake: () => {},
      clock: () => now,
    },
    { ...DEFAULT_PUSH_FLUSH, ...opts.settings },
    opts.random ?? (() => 0.5),
  );
  /** A sends `n` messages now, each queued for a push as the fan-out does */
  const send = (n: number, over: { mentions?: string[] } = {}) => {
    const sends = Array.from({ length: n }, (_, i) => ({
      sender_id: A,
      frame: { type: "send" as const, room_id: ROOM, client_message_id: `c${now}-${i}`, body: `hi ${now}`, ...over },
    }));
    const { results } = store.messages.commitSends(ROOM, sends, now, ids, store.meta()!.last_seq);
    for (const r of results) store.outbox.addPush(r.seq, now);
  };
  /** the alarm at `at`, if the flusher is due by then */
  const alarm = async (at: number) => {
    now = at;
    const due = flusher.dueAt(at);
    if (due !== null && due <= at) await flusher.run(at);
  };
  /** every alarm the flusher asks for, until it asks for none; the times it ran at */
  const drain = async () => {
    const dues: number[] = [];
    for (let i = 0; i < 20; i++) {
      const due = flusher.dueAt(now);
      if (due === null) break;
      dues.push(due);
      await alarm(due);
    }
    return dues;
  };
  return {
    store,
    flusher,
    drain,
    posted,
    streaming,
    send,
    alarm,
    setNow: (t: number) => void (now = t),
    seqs: () => posted.map((b) => b.messages.map((m) => m.seq)),
  };
}

afterEach(() => vi.restoreAllMocks());

describe("PushFlusher", () => {
  it("sends at most one request a second, each carrying every message waiting", async () => {
    const r = room();
    r.send(1);
    expect(r.flusher.dueAt(0)).toBe(200); // collects for a moment (jitter 0.5: the window itself)
    await r.alarm(200);
    r.setNow(300);
    r.send(3);
    expect(r.flusher.dueAt(300)).toBe(1200); // not before a second after the last request
    await r.alarm(500);
    expect(r.posted).toHaveLength(1);
    await r.alarm(1200);
    r.setNow(1300);
    r.send(2);
    await r.alarm(1500);
    await r.alarm(2200);
    expect(r.seqs()).toEqual([[1], [2, 3, 4], [5, 6]]);
    expect(r.flusher.dueAt(2200)).toBeNull();
    expect(r.store.outbox.counts()).toEqual({ message: 6 }); // the archive's rows are the archive's
  });

  it("pushes nobody twice: a member named once is left out of a message queued again", async () => {
    const r = room();
    r.send(1);
    await r.alarm(200);
    expect(r.posted[0]!.audience).toEqual({ mode: "only", user_ids: [B, C], quiet: [] });
    expect(r.store.member(B)!.pushed_seq).toBe(1);
    // a session that answered "no socket" late: the seq is queued again, and nobody new needs it
    r.store.outbox.addPush(1, 300);
    await r.alarm(1500);
    expect(r.posted).toHaveLength(1);
    expect(r.store.outbox.counts().push ?? 0).toBe(0);
  });

  it("settles without a request a batch with nobody offline to tell", async () => {
    const r = room();
    r.store.setSubscribed(B, true);
    r.streaming.add(C);
    r.send(2);
    await r.alarm(300);
    expect(r.posted).toEqual([]);
    expect(r.store.outbox.counts().push ?? 0).toBe(0);
  });

  it("retries a batch the relay did not take as the same batch, with backoff, and loses nothing", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const r = room({ answers: [503, 0, 500, 502, 500], random: () => 1 });
    r.send(2);
    r.setNow(250);
    r.send(1); // seq 3, queued before the first try: in the first batch
    const dues = await r.drain();
    // waits grow with each try (full jitter; random 1: the ceiling), never under the one-second window
    const s = DEFAULT_PUSH_FLUSH;
    const wait = (n: number) => backoffMs(n, s, () => 1);
    expect([wait(1), wait(2), wait(3), wait(4), wait(5)]).toEqual([500, 1000, 2000, 4000, 8000]);
    // random 1 also makes the collecting wait 250 ms (1.25 × 200)
    expect(dues).toEqual([250, 1250, 2250, 4250, 8250, 16250]);
    const first = r.posted[0]!;
    expect(r.posted.map((b) => b.batch_id)).toEqual(Array(6).fill(first.batch_id));
    expect(r.seqs()).toEqual(Array(6).fill([1, 2, 3]));
    expect(r.store.outbox.counts().push ?? 0).toBe(0);
    expect(r.store.member(B)!.pushed_seq).toBe(3);
  });

  it("keeps what arrives during a retry for the batch after it", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const r = room({ answers: [503], random: () => 1 });
    r.send(2);
    await r.alarm(250);
    r.setNow(300);
    r.send(1);
    const dues = await r.drain();
    expect(dues).toEqual([1250, 2250]);
    expect(r.seqs()).toEqual([[1, 2], [1, 2], [3]]);
    expect(r.posted[1]!.batch_id).toBe(r.posted[0]!.batch_id);
    expect(r.posted[2]!.batch_id).not.toBe(r.posted[0]!.batch_id);
  });

  it("retries the same batch after a restart (the try was counted before the request left)", async () => {
    const r = room();
    r.send(2);
    const claimed = r.store.outbox.claimPush()!; // a flush that died mid-request
    r.setNow(50);
    r.send(1);
    await r.drain();
    expect(r.posted[0]!.batch_id).toBe(`${ROOM}:${claimed.firstId}:${claimed.cut}`);
    expect(r.seqs()).toEqual([[1, 2], [3]]);
  });

  it("parks a batch the relay calls malformed, loudly, and goes on with the next", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const r = room({ answers: [400, 413] });
    r.send(1);
    await r.alarm(200);
    r.setNow(1200);
    r.send(1);
    await r.alarm(2200);
    r.setNow(3200);
    r.send(1);
    await r.alarm(4200);
    expect(r.seqs()).toEqual([[1], [2], [3]]);
    expect(r.store.outbox.counts()).toMatchObject({ refused_push: 2 });
    expect(r.store.outbox.counts().push ?? 0).toBe(0);
    expect(error.mock.calls.map((c) => String(c[0]))).toEqual([
      expect.stringMatching(/refused batch .* \(400\)/),
      expect.stringMatching(/refused batch .* \(413\)/),
    ]);
  });

  it("reports moved reads coalesced per member; one in a batch being retried stays in it", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const r = room({ answers: [503], random: () => 1 });
    r.send(3);
    r.store.outbox.addPushRead({ user_id: B, read_seq: 1 }, 0);
    r.store.outbox.addPushRead({ user_id: B, read_seq: 2 }, 0);
    r.store.outbox.addPushRead({ user_id: C, read_seq: 1 }, 0);
    expect(r.store.outbox.counts()).toMatchObject({ push_read: 2 });
    await r.alarm(250); // 503
    r.store.outbox.addPushRead({ user_id: B, read_seq: 3 }, 300); // after the batch was cut
    expect(r.store.outbox.counts()).toMatchObject({ push_read: 3 });
    await r.drain();
    const [tried, retried, next] = r.posted;
    expect(retried).toEqual(tried);
    expect(tried!.reads).toEqual([
      { user_id: B, read_seq: 2 },
      { user_id: C, read_seq: 1 },
    ]);
    expect(next).toMatchObject({ messages: [], audience: null, reads: [{ user_id: B, read_seq: 3 }] });
    expect(r.store.outbox.counts()).toEqual({ message: 3 });
  });

  it("tells the relay of deleted messages, and pushes no message deleted before its batch left", async () => {
    const r = room();
    r.send(2);
    await r.alarm(200); // seqs 1 and 2 pushed
    const deleteSeq = (seq: number, at: number) => {
      r.store.messages.writeChange(
        ROOM,
        A,
        `op-${seq}`,
        seq,
        { status: "deleted", body: "", clears: true, updated_at: at, rev: seq },
        at,
      );
      r.store.outbox.addPushDelete(seq, at);
    };
    r.setNow(300);
    deleteSeq(1, 300);
    r.send(1); // seq 3, deleted before its batch leaves
    deleteSeq(3, 300);
    await r.drain();
    expect(r.posted.map((b) => [b.messages.map((m) => m.seq), b.deleted_seqs])).toEqual([
      [[1, 2], undefined],
      [[], [1, 3]],
    ]);
    expect(r.store.outbox.counts().push_delete ?? 0).toBe(0);
  });

  it("cuts a batch at PUSH_BATCH_MAX_DELETES deleted seqs; the rest go in the next", async () => {
    const r = room();
    for (let seq = 1; seq <= PUSH_BATCH_MAX_DELETES + 5; seq++) r.store.outbox.addPushDelete(seq, 0);
    await r.drain();
    expect(r.posted.map((b) => b.deleted_seqs?.length)).toEqual([PUSH_BATCH_MAX_DELETES, 5]);
  });

  it("sends a backlog oldest first, at most 100 messages a batch, a batch a second, and loses none of it", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    // the relay is down for the first two tries; C muted the room and only the first message mentions C
    const r = room({ answers: [503, 0], muted: [C] });
    r.send(1, { mentions: [C] });
    r.setNow(1);
    r.send(249);
    const dues = await r.drain();
    const ok = r.posted.slice(2);
    expect(r.seqs()).toEqual([
      ...Array(2).fill(Array.from({ length: 100 }, (_, i) => i + 1)),
      Array.from({ length: 100 }, (_, i) => i + 1),
      Array.from({ length: 100 }, (_, i) => i + 101),
      Array.from({ length: 50 }, (_, i) => i + 201),
    ]);
    // the mention went in the first batch, C named for it as quiet; C is not named after it
    expect(ok[0]!.audience).toEqual({ mode: "only", user_ids: [B, C], quiet: [C] });
    expect(ok.slice(1).map((b) => b.audience)).toEqual(Array(2).fill({ mode: "only", user_ids: [B], quiet: [] }));
    expect(new Set(r.posted.map((b) => b.batch_id)).size).toBe(3);
    // once the relay took one, the next followed a second later, not after a backoff
    const last = dues.slice(-3);
    expect([last[1]! - last[0]!, last[2]! - last[1]!]).toEqual([1000, 1000]);
    expect(r.store.outbox.counts().push ?? 0).toBe(0);
    expect(r.store.member(B)!.pushed_seq).toBe(250);
    expect(r.store.member(C)!.pushed_seq).toBe(100);
  });

  it("claims and settles only what fits in the relay's byte bound; the rest goes in the next batch", async () => {
    const r = room({ settings: { maxBytes: 2_000 } });
    r.send(30);
    await r.drain();
    const seqs = r.seqs();
    expect(seqs.length).toBeGreaterThan(2);
    expect(seqs.flat()).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    for (const b of r.posted) expect(new TextEncoder().encode(JSON.stringify(b)).length).toBeLessThanOrEqual(2_000);
    expect(new Set(r.posted.map((b) => b.batch_id)).size).toBe(r.posted.length);
    expect(r.store.outbox.counts().push ?? 0).toBe(0);
  });

  it("sends a batch claimed past the bound (before a restart) oldest first and queues the rest again", async () => {
    const r = room();
    r.send(150);
    // every row waiting, as one try took them before batches were bounded
    const claimed = r.store.outbox.claimPush(r.store.outbox.nextPushCut(1000))!;
    await r.drain();
    expect(r.posted[0]!.batch_id).toBe(`${ROOM}:${claimed.firstId}:${claimed.cut}`);
    expect(r.seqs()).toEqual([
      Array.from({ length: 100 }, (_, i) => i + 1),
      Array.from({ length: 50 }, (_, i) => i + 101),
    ]);
    expect(r.store.outbox.counts().push ?? 0).toBe(0);
  });
});
