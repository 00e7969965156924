// The sink's shared behaviour suite on the embedded SQLite archive (what `npm start` uses), plus
// what only this store has: the purge and reopening the file.
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSink, SqliteArchiveStore, type RunningSink } from "./index.js";
import { client, message, SECRET, sinkBehaviour, type SuiteTarget } from "../test/support/sink-suite.js";

describe("cassandra-sink on SQLite", () => {
  let dir: string;
  let sink: RunningSink;
  const started: RunningSink[] = [];
  const target: SuiteTarget = {
    async start({ retentionSeconds }) {
      const s = await startSink({
        secret: SECRET,
        retentionSeconds,
        store: { kind: "sqlite", path: path.join(dir, `${randomUUID()}.sqlite`), purgeIntervalMs: 1000 },
        log: () => {},
      });
      started.push(s);
      return s;
    },
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sink-sqlite-"));
    sink = await target.start({ retentionSeconds: 15_552_000, bucketSize: 10 });
  });
  afterAll(async () => {
    for (const s of started) await s.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  sinkBehaviour(
    () => target,
    () => sink,
  );

  describe("SQLite specifics", () => {
    it("purges expired rows from the file, at start and periodically, not only from reads", async () => {
      const file = path.join(dir, "purge.sqlite");
      const store = new SqliteArchiveStore({ path: file, purgeIntervalMs: 500, retentionSeconds: 2 });
      await store.init();
      const room = randomUUID();
      const r = await store.writeBatch({
        batch_id: "p",
        messages: [1, 2, 3].map((s) => ({
          ...message(room, s),
          mentions: [],
          mention_all: false,
          attachments: [],
          status: "active" as const,
          created_at: new Date().toISOString(),
        })),
        read_offsets: [],
      });
      expect(r).toEqual({ messages: 3, read_offsets: 0, expired: 0 });
      expect(store.countStoredMessages()).toBe(3);
      await new Promise((res) => setTimeout(res, 3000)); // past retention, and past a purge tick
      expect(store.countStoredMessages()).toBe(0);
      await store.close();
    });

    it("keeps what it acknowledged across a restart of the sink on the same file", async () => {
      const file = path.join(dir, "reopen.sqlite");
      const room = randomUUID();
      const first = await startSink({
        secret: SECRET,
        store: { kind: "sqlite", path: file, purgeIntervalMs: 60_000 },
        log: () => {},
      });
      await client(first).ok({ batch_id: "r1", messages: [message(room, 1), message(room, 2)] });
      await first.stop();
      const second = await startSink({
        secret: SECRET,
        store: { kind: "sqlite", path: file, purgeIntervalMs: 60_000 },
        log: () => {},
      });
      started.push(second);
      expect((await client(second).seqs(room)).seqs).toEqual([2, 1]);
    });

    it("gives a file from before last-seq existed each room's highest stored seq", async () => {
      const file = path.join(dir, "v1.sqlite");
      const room = randomUUID();
      const first = await startSink({
        secret: SECRET,
        store: { kind: "sqlite", path: file, purgeIntervalMs: 60_000 },
        log: () => {},
      });
      await client(first).ok({ batch_id: "v1", messages: [message(room, 4), message(room, 9)] });
      await first.stop();
      // what a version-1 sink left: the messages, no room_seqs
      const raw = new Database(file);
      raw.exec("DROP TABLE room_seqs; PRAGMA user_version = 1;");
      raw.close();
      const second = await startSink({
        secret: SECRET,
        store: { kind: "sqlite", path: file, purgeIntervalMs: 60_000 },
        log: () => {},
      });
      started.push(second);
      expect((await client(second).lastSeq(room)).body).toEqual({ last_seq: 9 });
      await client(second).ok({ batch_id: "v2", messages: [message(room, 10)] });
      expect((await client(second).lastSeq(room)).body).toEqual({ last_seq: 10 });
    });

    it("answers 503 (retry later) on /readyz and on writes when the store is gone", async () => {
      const store = new SqliteArchiveStore({
        path: path.join(dir, "closed.sqlite"),
        purgeIntervalMs: 60_000,
        retentionSeconds: 100,
      });
      await store.init();
      const s = await startSink({ secret: SECRET, store, log: () => {} });
      started.push(s);
      expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
      await store.close();
      const ready = await fetch(`${s.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { error: { code: string } }).error.code).toBe("unavailable");
      const w = await client(s).post({ batch_id: "x", messages: [message(randomUUID(), 1)] });
      expect(w.status).toBe(503);
      expect(w.body.error.code).toBe("unavailable");
      expect(w.body.error.retry_after_ms).toBeGreaterThan(0);
    });
  });
});
