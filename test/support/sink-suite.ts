// The sink's behaviour, written once and run against both stores (cassandra.test.ts with a real
// Cassandra node, sqlite.test.ts with the embedded default). Everything goes through HTTP, as the
// ChatRoom outbox and the edge will use it.
import { randomUUID } from "node:crypto";
import cassandra from "cassandra-driver";
import { describe, expect, it } from "vitest";
import type {
  ArchiveBatchInput,
  ArchiveHistoryPage,
  ArchiveMessageInput,
  ArchiveOffsets,
  ArchiveReadOffset,
  ArchiveWriteResult,
  ErrorBody,
} from "../../protocol/index.js";
import type { RunningSink } from "../../cassandra-sink/index.js";

export const SECRET = "test-sink-secret-0123456789abcdef";

export interface SuiteTarget {
  /** a sink on a fresh namespace (keyspace or file) with these settings */
  start(o: { retentionSeconds: number; bucketSize: number }): Promise<RunningSink>;
}

export const timeUuid = (at = new Date()) => cassandra.types.TimeUuid.fromDate(at).toString();

export function message(roomId: string, seq: number, over: Partial<ArchiveMessageInput> = {}): ArchiveMessageInput {
  return {
    room_id: roomId,
    seq,
    message_id: timeUuid(),
    sender_id: randomUUID(),
    client_message_id: `cm-${seq}-${randomUUID().slice(0, 8)}`,
    body: `message ${seq}`,
    mentions: [],
    mention_all: false,
    attachments: [],
    created_at: new Date().toISOString(),
    ...over,
  };
}

export function client(sink: RunningSink, secret = SECRET) {
  const headers = { authorization: `Bearer ${secret}`, "content-type": "application/json" };
  return {
    async post(
      batch: unknown,
      h: Record<string, string> = headers,
    ): Promise<{ status: number; body: ArchiveWriteResult & ErrorBody }> {
      const res = await fetch(`${sink.url}/v1/batches`, {
        method: "POST",
        headers: h,
        body: typeof batch === "string" ? batch : JSON.stringify(batch),
      });
      return { status: res.status, body: (await res.json()) as ArchiveWriteResult & ErrorBody };
    },
    async page(
      roomId: string,
      query = "",
      h: Record<string, string> = headers,
    ): Promise<{ status: number; body: ArchiveHistoryPage & ErrorBody }> {
      const res = await fetch(`${sink.url}/v1/rooms/${roomId}/messages${query ? `?${query}` : ""}`, { headers: h });
      return { status: res.status, body: (await res.json()) as ArchiveHistoryPage & ErrorBody };
    },
    async offsets(
      roomId: string,
      h: Record<string, string> = headers,
    ): Promise<{ status: number; body: ArchiveOffsets & ErrorBody }> {
      const res = await fetch(`${sink.url}/v1/rooms/${roomId}/read-offsets`, { headers: h });
      return { status: res.status, body: (await res.json()) as ArchiveOffsets & ErrorBody };
    },
    async lastSeq(roomId: string, h: Record<string, string> = headers): Promise<{ status: number; body: any }> {
      const res = await fetch(`${sink.url}/v1/rooms/${roomId}/last-seq`, { headers: h });
      return { status: res.status, body: await res.json() };
    },
    async ok(batch: ArchiveBatchInput): Promise<ArchiveWriteResult> {
      const r = await this.post(batch);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body;
    },
    async seqs(roomId: string, query = ""): Promise<{ seqs: number[]; has_more: boolean }> {
      const r = await this.page(roomId, query);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return { seqs: r.body.messages.map((m) => m.seq), has_more: r.body.has_more };
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const batchId = () => `batch-${randomUUID()}`;

/** Registers the shared tests. `sink()` is the long-lived sink (6-month retention, bucket size 10). */
export function sinkBehaviour(target: () => SuiteTarget, sink: () => RunningSink) {
  describe("auth", () => {
    it("refuses every /v1 route without the right bearer secret, with the protocol error shape", async () => {
      const room = randomUUID();
      const c = client(sink());
      const batch = { batch_id: batchId(), messages: [message(room, 1)] };
      const cases: Array<Record<string, string>> = [
        { "content-type": "application/json" },
        { authorization: `Bearer wrong-${SECRET}`, "content-type": "application/json" },
        { authorization: `Bearer ${SECRET.slice(0, -1)}`, "content-type": "application/json" },
        {
          authorization: `Basic ${Buffer.from(`sink:${SECRET}`).toString("base64")}`,
          "content-type": "application/json",
        },
        { authorization: `bearer${SECRET}`, "content-type": "application/json" },
      ];
      for (const h of cases) {
        const w = await c.post(batch, h);
        expect(w.status).toBe(401);
        expect(w.body.error.code).toBe("unauthorized");
        expect(typeof w.body.error.message).toBe("string");
        expect((await c.page(room, "", h)).status).toBe(401);
        expect((await c.offsets(room, h)).status).toBe(401);
        expect((await c.lastSeq(room, h)).status).toBe(401);
      }
      // nothing was written by the refused posts
      expect((await c.seqs(room)).seqs).toEqual([]);
      // the operational routes need no secret
      for (const p of ["/healthz", "/readyz", "/metrics"]) expect((await fetch(sink().url + p)).status).toBe(200);
    });
  });

  describe("write and read back", () => {
    it("stores every field of a batch and reads it back, newest first", async () => {
      const c = client(sink());
      const room = randomUUID();
      const alice = randomUUID();
      const bob = randomUUID();
      const created = new Date(Date.now() - 60_000);
      const m1 = message(room, 1, {
        sender_id: alice,
        body: "hello @bob 👋 — ünïcödé",
        mentions: [bob],
        created_at: created.toISOString(),
        message_id: timeUuid(created),
        attachments: [
          { id: "att-1", url: "https://cdn.example.test/a/1.png", mime: "image/png", size: 12345, name: "one.png" },
          { id: "att-2", url: "https://cdn.example.test/a/2.pdf", mime: "application/pdf", size: 0, name: "two.pdf" },
        ],
      });
      const m2 = message(room, 2, {
        sender_id: bob,
        body: "reply",
        reply_to_seq: 1,
        mention_all: true,
        mentions: [alice, bob],
      });
      const m3 = message(room, 3, {
        sender_id: alice,
        body: "",
        attachments: [{ id: "x", url: "http://files.test/x", mime: "text/plain", size: 1, name: "x.txt" }],
      });
      const offsets: ArchiveReadOffset[] = [
        { room_id: room, user_id: alice, read_seq: 3, updated_at: new Date().toISOString() },
        { room_id: room, user_id: bob, read_seq: 0, updated_at: new Date().toISOString() },
      ];
      const result = await c.ok({ batch_id: batchId(), messages: [m1, m2, m3], read_offsets: offsets });
      expect(result).toEqual({ messages: 3, read_offsets: 2, expired: 0 });

      const page = await c.page(room);
      expect(page.status).toBe(200);
      expect(page.body.has_more).toBe(false);
      const strip = (m: ArchiveMessageInput) => {
        const { attachments, reply_to_seq, status: _s, ...rest } = m;
        return {
          ...rest,
          ...(reply_to_seq != null ? { reply_to_seq } : {}),
          ...(attachments?.length ? { attachments } : {}),
        };
      };
      expect(page.body.messages).toEqual([strip(m3), strip(m2), strip(m1)]);

      const o = await c.offsets(room);
      expect(o.status).toBe(200);
      expect([...o.body.offsets].sort((a, b) => a.read_seq - b.read_seq)).toEqual([
        { user_id: bob, read_seq: 0, updated_at: offsets[1]!.updated_at },
        { user_id: alice, read_seq: 3, updated_at: offsets[0]!.updated_at },
      ]);
      expect((await c.offsets(randomUUID())).body).toEqual({ offsets: [] });
    });

    it("normalises ids and instants, so what is read back equals what the contract means", async () => {
      const c = client(sink());
      const room = randomUUID();
      const m = message(room, 7, { room_id: room.toUpperCase(), created_at: "2030-01-01T00:00:00+01:00" });
      // created_at in the future (a fast clock upstream) is kept for the full retention, not longer
      await c.ok({ batch_id: batchId(), messages: [m] });
      const [got] = (await c.page(room)).body.messages;
      expect(got?.room_id).toBe(room);
      expect(got?.created_at).toBe("2029-12-31T23:00:00.000Z");
    });
  });

  describe("idempotency", () => {
    it("the same batch twice leaves the same rows", async () => {
      const c = client(sink());
      const room = randomUUID();
      const user = randomUUID();
      const batch: ArchiveBatchInput = {
        batch_id: batchId(),
        messages: range(1, 30).map((s) =>
          message(
            room,
            s,
            s % 7 === 0
              ? {
                  attachments: [
                    { id: `a${s}`, url: `https://x.test/${s}`, mime: "image/jpeg", size: s, name: `${s}.jpg` },
                  ],
                }
              : {},
          ),
        ),
        read_offsets: [{ room_id: room, user_id: user, read_seq: 30, updated_at: new Date().toISOString() }],
      };
      const first = await c.ok(batch);
      const pageAfterFirst = (await c.page(room, "limit=100")).body;
      const offsetsAfterFirst = (await c.offsets(room)).body;
      const second = await c.ok(batch);
      expect(second).toEqual(first);
      const pageAfterSecond = (await c.page(room, "limit=100")).body;
      expect(pageAfterSecond).toEqual(pageAfterFirst);
      expect(pageAfterSecond.messages.map((m) => m.seq)).toEqual(range(1, 30).reverse());
      expect(pageAfterSecond.messages.filter((m) => m.attachments?.length).map((m) => m.seq)).toEqual([28, 21, 14, 7]);
      expect((await c.offsets(room)).body).toEqual(offsetsAfterFirst);
    });

    it("a later version (deleted) replaces a message, and a retried older version never brings it back", async () => {
      const c = client(sink());
      const room = randomUUID();
      const t0 = new Date(Date.now() - 10_000);
      const original = message(room, 1, {
        created_at: t0.toISOString(),
        mentions: [randomUUID()],
        attachments: [{ id: "a", url: "https://x.test/a", mime: "image/png", size: 1, name: "a.png" }],
      });
      const deleted: ArchiveMessageInput = {
        ...original,
        status: "deleted",
        updated_at: new Date(t0.getTime() + 5000).toISOString(),
      };
      await c.ok({ batch_id: batchId(), messages: [original] });
      await c.ok({ batch_id: batchId(), messages: [deleted] });
      await c.ok({ batch_id: batchId(), messages: [original] }); // the outbox retrying an old batch
      const [m] = (await c.page(room)).body.messages;
      expect(m).toEqual({
        room_id: room,
        seq: 1,
        message_id: original.message_id,
        sender_id: original.sender_id,
        client_message_id: original.client_message_id,
        body: "",
        mentions: [],
        mention_all: false,
        created_at: original.created_at,
        status: "deleted",
        updated_at: deleted.updated_at,
      });
    });

    it("an edited version replaces the body, keeps mentions and attachments, and gives way to a later delete", async () => {
      const c = client(sink());
      const room = randomUUID();
      const t0 = new Date(Date.now() - 10_000);
      const mentioned = randomUUID();
      const original = message(room, 1, {
        created_at: t0.toISOString(),
        mentions: [mentioned],
        attachments: [{ id: "a", url: "https://x.test/a", mime: "image/png", size: 1, name: "a.png" }],
      });
      const edited: ArchiveMessageInput = {
        ...original,
        body: "fixed typo",
        status: "edited",
        updated_at: new Date(t0.getTime() + 1000).toISOString(),
      };
      const edited2: ArchiveMessageInput = {
        ...edited,
        body: "fixed it again",
        updated_at: new Date(t0.getTime() + 2000).toISOString(),
      };
      await c.ok({ batch_id: batchId(), messages: [original] });
      await c.ok({ batch_id: batchId(), messages: [edited2] });
      await c.ok({ batch_id: batchId(), messages: [edited, original] }); // older versions arriving late
      const [m] = (await c.page(room)).body.messages;
      expect(m).toEqual({
        room_id: room,
        seq: 1,
        message_id: original.message_id,
        sender_id: original.sender_id,
        client_message_id: original.client_message_id,
        body: "fixed it again",
        mentions: [mentioned],
        mention_all: false,
        attachments: original.attachments,
        created_at: original.created_at,
        status: "edited",
        updated_at: edited2.updated_at,
      });
      const deleted: ArchiveMessageInput = {
        ...edited2,
        status: "deleted",
        updated_at: new Date(t0.getTime() + 3000).toISOString(),
      };
      await c.ok({ batch_id: batchId(), messages: [deleted, edited2] });
      const [gone] = (await c.page(room, "after_seq=0")).body.messages;
      expect(gone).toMatchObject({ seq: 1, body: "", mentions: [], status: "deleted", updated_at: deleted.updated_at });
      expect(gone).not.toHaveProperty("attachments");
    });
  });

  describe("validation", () => {
    it("refuses a batch with one malformed item whole, naming the item, and writes nothing", async () => {
      const c = client(sink());
      const room = randomUUID();
      const good = range(1, 5).map((s) => message(room, s));
      const cases: Array<[ArchiveBatchInput | Record<string, unknown>, RegExp]> = [
        [
          {
            batch_id: batchId(),
            messages: [...good.slice(0, 3), { ...message(room, 4), message_id: randomUUID() }, good[4]!],
          },
          /messages\.3\.message_id: must be a version-1/,
        ],
        [{ batch_id: batchId(), messages: [...good.slice(0, 2), { ...message(room, 3), seq: 0 }] }, /messages\.2\.seq/],
        [
          { batch_id: batchId(), messages: [...good, { ...message(room, 6), body: "x".repeat(4001) }] },
          /messages\.5\.body/,
        ],
        [
          { batch_id: batchId(), messages: [...good, { ...message(room, 6), mentions: ["not-a-uuid"] }] },
          /messages\.5\.mentions\.0: must be a UUID/,
        ],
        [
          {
            batch_id: batchId(),
            messages: [
              ...good,
              {
                ...message(room, 6),
                attachments: [{ id: "a", url: "javascript:alert(1)", mime: "x/y", size: 1, name: "n" }],
              },
            ],
          },
          /messages\.5\.attachments\.0\.url/,
        ],
        [{ batch_id: batchId(), messages: [...good, { ...message(room, 6), extra: 1 }] }, /messages\.5/],
        [
          {
            batch_id: batchId(),
            messages: good,
            read_offsets: [
              { room_id: room, user_id: randomUUID(), read_seq: -1, updated_at: new Date().toISOString() },
            ],
          },
          /read_offsets\.0\.read_seq/,
        ],
        [
          {
            batch_id: batchId(),
            messages: good,
            read_offsets: [{ room_id: room, user_id: randomUUID(), read_seq: 1, updated_at: "yesterday" }],
          },
          /read_offsets\.0\.updated_at/,
        ],
        [{ batch_id: "", messages: good }, /batch_id/],
        [{ batch_id: batchId(), messages: [] }, /at least one/],
        [{ batch_id: batchId(), messages: range(1, 1001).map((s) => message(room, s)) }, /messages: .*1000/],
      ];
      for (const [batch, why] of cases) {
        const r = await c.post(batch);
        expect(r.status, JSON.stringify(r.body)).toBe(400);
        expect(r.body.error.code).toBe("invalid");
        expect(r.body.error.message).toMatch(why);
      }
      for (const raw of ["{", "null", "[1]", '"x"']) {
        const r = await c.post(raw);
        expect(r.status).toBe(400);
        expect(r.body.error.code).toBe("invalid");
      }
      expect((await c.seqs(room)).seqs).toEqual([]);
      expect((await c.offsets(room)).body.offsets).toEqual([]);
    });

    it("refuses a body over the size bound with 413 before reading it all", async () => {
      const c = client(sink());
      const room = randomUUID();
      // 400 messages of 4,000 control characters (24 KB of JSON each once escaped): each valid, 9.6 MB together
      const big = range(1, 400).map((s) => message(room, s, { body: "\u0001".repeat(4000) }));
      const r = await c.post({ batch_id: batchId(), messages: big });
      expect(r.status).toBe(413);
      expect(r.body.error.code).toBe("too_large");
      expect((await c.seqs(room)).seqs).toEqual([]);
    });

    it("checks history queries and room ids", async () => {
      const c = client(sink());
      const room = randomUUID();
      for (const q of [
        "limit=0",
        "limit=101",
        "limit=abc",
        "before_seq=0",
        "before_seq=-1",
        "after_seq=1e3",
        "after_seq=5&before_seq=5",
        "limit=5&limit=6",
        "cursor=x",
      ]) {
        const r = await c.page(room, q);
        expect(r.status, q).toBe(400);
        expect(r.body.error.code).toBe("invalid");
      }
      expect((await c.page("not-a-room")).status).toBe(400);
      expect((await c.offsets("not-a-room")).status).toBe(400);
      const nf = await fetch(`${sink().url}/v1/nope`, { headers: { authorization: `Bearer ${SECRET}` } });
      expect(nf.status).toBe(404);
      expect(((await nf.json()) as ErrorBody).error.code).toBe("not_found");
    });
  });

  describe("paging", () => {
    // the long-lived sink uses bucket size 10, so 95 messages span 10 buckets
    it("pages newest-first and oldest-first across bucket boundaries with no gap and no duplicate", async () => {
      const c = client(sink());
      const room = randomUUID();
      // two batches, the second out of order, as two outbox flushes might arrive
      // every third message has attachments: each page must carry exactly its own messages' ones
      const withFiles = (s: number) =>
        message(
          room,
          s,
          s % 3
            ? {}
            : {
                attachments: range(1, (s % 4) + 1).map((i) => ({
                  id: `a${s}-${i}`,
                  url: `https://x.test/${s}/${i}`,
                  mime: "image/png",
                  size: i,
                  name: `${i}.png`,
                })),
              },
        );
      await c.ok({ batch_id: batchId(), messages: range(48, 95).map(withFiles) });
      await c.ok({ batch_id: batchId(), messages: range(1, 47).reverse().map(withFiles) });
      const checkFiles = (page: ArchiveHistoryPage) => {
        for (const m of page.messages) {
          expect(
            m.attachments?.map((a) => a.id),
            `attachments of ${m.seq}`,
          ).toEqual(m.seq % 3 ? undefined : range(1, (m.seq % 4) + 1).map((i) => `a${m.seq}-${i}`));
        }
      };

      for (const limit of [1, 7, 10, 13, 50, 100]) {
        const seen: number[] = [];
        let before: number | undefined;
        for (let guard = 0; guard < 200; guard++) {
          const q = `limit=${limit}${before ? `&before_seq=${before}` : ""}`;
          const full = await c.page(room, q);
          checkFiles(full.body);
          const p = await c.seqs(room, q);
          expect(p.seqs.length).toBeLessThanOrEqual(limit);
          seen.push(...p.seqs);
          if (!p.has_more) break;
          expect(p.seqs.length).toBe(limit);
          before = p.seqs[p.seqs.length - 1];
        }
        expect(seen, `newest first, limit ${limit}`).toEqual(range(1, 95).reverse());

        const up: number[] = [];
        let after = 0;
        for (let guard = 0; guard < 200; guard++) {
          const full = await c.page(room, `limit=${limit}&after_seq=${after}`);
          checkFiles(full.body);
          const p = await c.seqs(room, `limit=${limit}&after_seq=${after}`);
          up.push(...p.seqs);
          if (!p.has_more) break;
          after = p.seqs[p.seqs.length - 1]!;
        }
        expect(up, `oldest first, limit ${limit}`).toEqual(range(1, 95));
      }

      expect(await c.seqs(room, "after_seq=8&before_seq=23&limit=100")).toEqual({
        seqs: range(9, 22),
        has_more: false,
      });
      expect(await c.seqs(room, "after_seq=8&before_seq=23&limit=5")).toEqual({ seqs: range(9, 13), has_more: true });
      expect(await c.seqs(room, "before_seq=11&limit=10")).toEqual({ seqs: range(1, 10).reverse(), has_more: false });
      expect(await c.seqs(room, "before_seq=11&limit=9")).toEqual({ seqs: range(2, 10).reverse(), has_more: true });
      expect(await c.seqs(room, "after_seq=95")).toEqual({ seqs: [], has_more: false });
      expect(await c.seqs(room, "before_seq=1")).toEqual({ seqs: [], has_more: false });
      expect(await c.seqs(room, "before_seq=9007199254740991&limit=3")).toEqual({ seqs: [95, 94, 93], has_more: true });
      expect(await c.seqs(room)).toEqual({ seqs: range(46, 95).reverse(), has_more: true }); // default limit 50
    });

    it("skips missing buckets and sparse seqs (a room archived from seq 1000 on, with holes)", async () => {
      const c = client(sink());
      const room = randomUUID();
      const seqs = [1003, 1004, 1031, 1032, 1100, 1101, 2500, 99_999];
      await c.ok({ batch_id: batchId(), messages: seqs.map((s) => message(room, s)) });
      expect(await c.seqs(room, "limit=3")).toEqual({ seqs: [99_999, 2500, 1101], has_more: true });
      expect(await c.seqs(room, "limit=3&before_seq=1101")).toEqual({ seqs: [1100, 1032, 1031], has_more: true });
      expect(await c.seqs(room, "limit=3&before_seq=1031")).toEqual({ seqs: [1004, 1003], has_more: false });
      expect(await c.seqs(room, "limit=4&after_seq=0")).toEqual({ seqs: [1003, 1004, 1031, 1032], has_more: true });
      expect(await c.seqs(room, "limit=4&after_seq=1032")).toEqual({
        seqs: [1100, 1101, 2500, 99_999],
        has_more: false,
      });

      // one message in every other bucket, 40 of them: one page spans more buckets than one lookup lists
      const wide = randomUUID();
      const wideSeqs = range(0, 39).map((i) => i * 20 + 5);
      await c.ok({ batch_id: batchId(), messages: wideSeqs.map((s) => message(wide, s)) });
      expect(await c.seqs(wide, "limit=100")).toEqual({ seqs: [...wideSeqs].reverse(), has_more: false });
      expect(await c.seqs(wide, "limit=100&after_seq=0")).toEqual({ seqs: wideSeqs, has_more: false });
      expect(await c.seqs(wide, "limit=39&after_seq=0")).toEqual({ seqs: wideSeqs.slice(0, 39), has_more: true });
      expect(await c.seqs(wide, "limit=30&before_seq=700")).toEqual({
        seqs: wideSeqs
          .filter((s) => s < 700)
          .reverse()
          .slice(0, 30),
        has_more: true,
      });
    });
  });

  describe("read offsets", () => {
    it("never move backward, whatever order the writes arrive in", async () => {
      const c = client(sink());
      const room = randomUUID();
      const [a, b, d] = [randomUUID(), randomUUID(), randomUUID()];
      const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
      const off = (user: string, read_seq: number, s: number): ArchiveReadOffset => ({
        room_id: room,
        user_id: user,
        read_seq,
        updated_at: at(s),
      });
      const read = async () =>
        Object.fromEntries((await c.offsets(room)).body.offsets.map((o) => [o.user_id, o.read_seq]));

      await c.ok({ batch_id: batchId(), read_offsets: [off(a, 30, 3)] });
      await c.ok({ batch_id: batchId(), read_offsets: [off(a, 10, 1)] }); // older, arriving late
      expect(await read()).toEqual({ [a]: 30 });
      // newer and older in one batch, newer first
      await c.ok({ batch_id: batchId(), read_offsets: [off(a, 50, 5), off(a, 40, 4), off(b, 7, 2), off(b, 3, 1)] });
      expect(await read()).toEqual({ [a]: 50, [b]: 7 });
      // a whole history in shuffled order ends at the newest
      const history = range(1, 40).map((s) => off(d, s * 2, s));
      for (let i = history.length - 1; i > 0; i--) {
        const j = (i * 7919) % (i + 1);
        [history[i], history[j]] = [history[j]!, history[i]!];
      }
      for (let i = 0; i < history.length; i += 8)
        await c.ok({ batch_id: batchId(), read_offsets: history.slice(i, i + 8) });
      expect(await read()).toEqual({ [a]: 50, [b]: 7, [d]: 80 });
      const dRow = (await c.offsets(room)).body.offsets.find((o) => o.user_id === d);
      expect(dRow?.updated_at).toBe(at(40));
    });
  });

  describe("last seq", () => {
    it("answers the highest seq ever archived for a room, whatever order batches arrive in, and 0 for none", async () => {
      const c = client(sink());
      const room = randomUUID();
      const other = randomUUID();
      expect((await c.lastSeq(room)).body).toEqual({ last_seq: 0 });
      await c.ok({ batch_id: batchId(), messages: [message(room, 7), message(room, 12), message(other, 3)] });
      await c.ok({ batch_id: batchId(), messages: [message(room, 9)] }); // an older batch, retried late
      expect((await c.lastSeq(room)).body).toEqual({ last_seq: 12 });
      expect((await c.lastSeq(other)).body).toEqual({ last_seq: 3 });
      // a seq past retention was given out all the same: it counts, though nothing is stored for it
      const old = new Date(Date.now() - 400 * 86_400_000).toISOString();
      const w = await c.ok({ batch_id: batchId(), messages: [message(room, 20, { created_at: old })] });
      expect(w.expired).toBe(1);
      expect((await c.lastSeq(room)).body).toEqual({ last_seq: 20 });
      expect((await c.seqs(room)).seqs).toEqual([12, 9, 7]);
      // read offsets alone move nothing
      await c.ok({
        batch_id: batchId(),
        read_offsets: [{ room_id: room, user_id: randomUUID(), read_seq: 50, updated_at: new Date().toISOString() }],
      });
      expect((await c.lastSeq(room)).body).toEqual({ last_seq: 20 });
      // upper-case ids name the same room
      expect((await c.lastSeq(room.toUpperCase())).body).toEqual({ last_seq: 20 });
    });

    it("refuses a bad room id or a query string", async () => {
      const c = client(sink());
      const bad = await c.lastSeq("not-a-uuid");
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe("invalid");
      const res = await fetch(`${sink().url}/v1/rooms/${randomUUID()}/last-seq?x=1`, {
        headers: { authorization: `Bearer ${SECRET}` },
      });
      expect(res.status).toBe(400);
    });
  });

  describe("retention", () => {
    it("expires messages at created_at + retention, shortens the life of a late one, and skips one already expired", async () => {
      // Margins for Cassandra's whole-second TTLs (a TTL of n s ends n-1..n s after the write) and
      // for a slow machine between building the batch and the sink writing it.
      const ttlSink = await target().start({ retentionSeconds: 8, bucketSize: 10 });
      try {
        const c = client(ttlSink);
        const room = randomUUID();
        const now = Date.now();
        const fresh = message(room, 3, { created_at: new Date(now).toISOString() }); // ~8 s left
        const late = message(room, 2, { created_at: new Date(now - 4500).toISOString() }); // ~3.5 s left
        const gone = message(room, 1, { created_at: new Date(now - 10_000).toISOString() }); // none left
        const w = await c.ok({ batch_id: batchId(), messages: [fresh, late, gone] });
        const writtenAt = Date.now();
        expect(w).toEqual({ messages: 3, read_offsets: 0, expired: 1 });
        expect((await c.seqs(room)).seqs).toEqual([3, 2]);

        await sleep(writtenAt + 3600 - Date.now());
        expect((await c.seqs(room)).seqs).toEqual([3]);
        await sleep(writtenAt + 8300 - Date.now());
        expect((await c.seqs(room)).seqs).toEqual([]);
        expect((await c.seqs(room, "after_seq=0")).seqs).toEqual([]);
      } finally {
        await ttlSink.stop();
      }
    }, 30_000);

    it("keeps a message's time to live when a later version of it arrives: it still ends at created_at + retention", async () => {
      const ttlSink = await target().start({ retentionSeconds: 8, bucketSize: 10 });
      try {
        const c = client(ttlSink);
        const room = randomUUID();
        const now = Date.now();
        const original = message(room, 1, { created_at: new Date(now - 4500).toISOString() }); // ~3.5 s left
        const keeper = message(room, 2, { created_at: new Date(now).toISOString() }); // ~8 s left
        await c.ok({ batch_id: batchId(), messages: [original, keeper] });
        const edited: ArchiveMessageInput = {
          ...original,
          body: "edited just now",
          status: "edited",
          updated_at: new Date().toISOString(),
        };
        await c.ok({ batch_id: batchId(), messages: [edited] });
        const writtenAt = Date.now();
        expect((await c.page(room)).body.messages.map((m) => [m.seq, m.body])).toEqual([
          [2, keeper.body],
          [1, "edited just now"],
        ]);
        // an edit that restarted the retention would keep seq 1 for another 8 s
        await sleep(writtenAt + 3600 - Date.now());
        expect((await c.seqs(room)).seqs).toEqual([2]);
      } finally {
        await ttlSink.stop();
      }
    }, 30_000);
  });

  describe("operations", () => {
    it("reports ready and exports batch sizes, latencies and errors on /metrics", async () => {
      const c = client(sink());
      const ready = await fetch(`${sink().url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: "ready" });
      await c.ok({ batch_id: batchId(), messages: [message(randomUUID(), 1)] });
      await c.post({ batch_id: "" });
      await c.page(randomUUID());
      const text = await (await fetch(`${sink().url}/metrics`)).text();
      expect(text).toMatch(/archive_sink_batch_items_bucket\{le="1",kind="messages"\} [1-9]/);
      expect(text).toMatch(/archive_sink_batch_write_seconds_count\{store="\w+"\} [1-9]/);
      expect(text).toMatch(/archive_sink_store_read_seconds_count\{store="\w+",op="history"\} [1-9]/);
      expect(text).toMatch(/archive_sink_errors_total\{kind="invalid"\} [1-9]/);
      expect(text).toMatch(/archive_sink_items_written_total\{kind="messages"\} [1-9]/);
    });
  });
}
