// Wires the room's capabilities to their one store, one socket host and the runtime. Each
// capability sees only the narrow host it declares (and is unit-tested against a fake of it);
// this file is the one place that says which real part answers each of those calls.
import {
  loadRoomSeqFacts,
  loadRoomSnapshot,
  markRoomCleaned,
  recordJoinedSeqs,
  reportRoom,
  withDb,
} from "../../db/index.js";
import type { RoomEvent } from "../../protocol/index.js";
import { verifyAccessToken } from "../../lib/auth-tokens/index.js";
import { Scheduler, type TimedJob } from "../shared/alarm.js";
import type { RealtimeConfig } from "../shared/config.js";
import { CloseCode, SocketHost } from "../shared/sockets.js";
import { TimeUuidGenerator } from "../shared/timeuuid.js";
import { TokenBucket } from "../shared/token-bucket.js";
import type { ObjectEnv } from "../env.js";
import { ActivityPlanner } from "./activity.js";
import { Coalescer } from "./coalescer.js";
import type { FanoutPlan } from "./fanout.js";
import { Membership } from "./membership.js";
import { Offsets, type SenderReads } from "./offsets.js";
import { DEFAULT_OUTBOX } from "./outbox.js";
import { OutboxFlusher } from "./outbox-flusher.js";
import { PushClient } from "./push-client.js";
import { DEFAULT_PUSH_FLUSH, PushFlusher } from "./push-flusher.js";
import { Recovery } from "./recovery.js";
import { RoomReport } from "./room-report.js";
import { SendBatcher } from "./send-batcher.js";
import { SinkClient } from "./sink-client.js";
import { StorageLimit } from "./storage-limit.js";
import { Announcements } from "./announce.js";
import { ChangeApplier } from "./change-applier.js";
import { mentions } from "./fanout.js";
import { RoomStore } from "./store.js";
import { Upkeep } from "./upkeep.js";

export type RoomParts = ReturnType<typeof roomCapabilities>;

const SESSION_PARALLELISM = 32;

export function roomCapabilities(ctx: DurableObjectState, env: ObjectEnv, cfg: RealtimeConfig) {
  const store = new RoomStore(ctx.storage.sql);
  const waitUntil = (p: Promise<unknown>) => ctx.waitUntil(p);
  const transaction = <T>(fn: () => T): T => {
    try {
      return ctx.storage.transactionSync(fn);
    } catch (err) {
      store.forget(); // SQLite rolled back: so do the store's in-memory copies
      throw err;
    }
  };
  const clock = () => Date.now();
  const meta = () => store.meta();
  const roomId = () => store.meta()?.room_id ?? "";
  const members = () => store.members();
  const session = (userId: string) => env.USER_SESSION.get(env.USER_SESSION.idFromName(userId));
  const db = <T>(fn: Parameters<typeof withDb<T>>[2]) => withDb(env, waitUntil, fn);

  const sockets = new SocketHost(ctx, {
    silentMs: cfg.silentSocketMs,
    verify: (token) => verifyAccessToken(env, token),
    // a member's last stream closing records how far they got
    onGone: (info) => {
      if (!sockets.hasUser(info.userId)) offsets.caughtUp(info.userId);
    },
    wake: (at) => alarms.wake(at),
    maxPerUser: cfg.socketsPerUser,
    maxPerDevice: cfg.socketsPerDevice,
    frames: { perSecond: cfg.framesPerSecond, burst: cfg.frameBurst },
  });
  const jobs: TimedJob[] = [];
  const alarms = new Scheduler(ctx.storage, waitUntil, jobs);
  const wake = (at: number) => alarms.wake(at);

  const coalescer = new Coalescer(
    {
      roomId,
      memberCount: () => store.memberCount(),
      broadcast: (frame, opts) => sockets.broadcast(frame, opts),
      sendToUser: (userId, frame) => sockets.sendToUser(userId, frame),
      notifyActivity: (users, changeOnly) => activity.notify(users, changeOnly),
      wake,
    },
    cfg,
  );
  const activity = new ActivityPlanner({
    meta,
    members,
    latestMessage: () => {
      const m = store.meta();
      return m && m.last_seq > 0 ? store.messages.message(m.room_id, m.last_seq) : null;
    },
    streamDevices: () => sockets.devicesByUser(),
    transaction,
    queuePush,
    pushNoted: (now) => pushes.noted(now),
    markDelivered: (users, seq) => store.markDelivered(users, seq),
    unsubscribe: (userId) => store.setSubscribed(userId, false),
    activity: (userId, event) => session(userId).activity(event),
    reportDelivered: (sender, users, seq) => coalescer.deliveredTo(sender, users, seq),
    waitUntil,
    clock,
  });
  const sink = SinkClient.from(env as unknown as Record<string, unknown>);
  // without a relay nothing is queued for one (as without a sink nothing would be taken)
  const relay = PushClient.from(env as unknown as Record<string, unknown>);
  const pushes = new PushFlusher(
    {
      meta,
      relay,
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
      message: (seq) => store.messages.message(roomId(), seq),
      members,
      streaming: () => new Set(sockets.devicesByUser().keys()),
      markPushed: (users, seq) => store.markPushed(users, seq),
      transaction,
      wake,
      clock,
    },
    { ...DEFAULT_PUSH_FLUSH, backoffMaxMs: cfg.pushRetryMaxMs },
  );
  function queuePush(seq: number, now: number): void {
    if (relay) store.outbox.addPush(seq, now);
  }
  const outbox = new OutboxFlusher(
    {
      meta,
      sink,
      outbox: {
        state: (n) => store.outbox.archiveState(n),
        head: (n) => store.outbox.archiveHead(n),
        settle: (ids) => store.outbox.settle(ids),
        defer: (ids, at) => store.outbox.defer(ids, at),
        park: (ids) => store.outbox.park(ids),
      },
      message: (seq) => store.messages.message(roomId(), seq),
      pruneHotTail: (now) => transaction(() => store.messages.prune(now, cfg)),
      wake,
      clock,
    },
    {
      ...DEFAULT_OUTBOX,
      maxItems: cfg.archiveBatchMaxItems,
      maxAgeMs: cfg.archiveFlushMs,
      backoffMaxMs: cfg.archiveRetryMaxMs,
    },
  );
  const offsets = new Offsets({
    meta,
    transaction,
    markRead: (userId, seq, lastSeq) => store.markRead(userId, seq, lastSeq),
    markDelivered: (users, seq) => store.markDelivered(users, seq),
    isMember: (userId) => store.member(userId) !== null,
    addReadRow: (payload, now) => store.outbox.addRead(payload, now),
    outboxNoted: (now) => outbox.noted(now),
    readsMoved: (now) => report.readsNoted(now),
    offsetsOf: (userId) => {
      const m = store.member(userId);
      return m ? { read_seq: m.read_seq, pushed_seq: m.pushed_seq ?? 0 } : null;
    },
    addPushReadRow: (payload, now) => {
      if (relay) store.outbox.addPushRead(payload, now);
      return relay !== null;
    },
    pushNoted: (now) => pushes.noted(now),
    receipts: coalescer,
    readSync: (userId, room, readSeq, fromDevice) => session(userId).readSync(room, readSeq, fromDevice),
    waitUntil,
    clock,
  });
  const upkeep = new Upkeep(
    {
      meta,
      maintenanceAt: () => {
        const v = store.kv("maintenance_at");
        return v === undefined ? null : Number(v);
      },
      setMaintenanceAt: (at) => store.setKv("maintenance_at", String(at)),
      oldestMessageAt: () => store.messages.oldestMessageAt(),
      prune: (now) => transaction(() => store.messages.prune(now, cfg)),
      // a room still learning its sequence is not "never used": it may have a history elsewhere
      anyoneHere: () => sockets.size > 0 || store.subscribedCount() > 0 || recovering(),
      archived: () => store.outbox.archiveState(1).count === 0,
      markCleaned: async (room) => void (await db((d) => markRoomCleaned(d, room))),
      dropEverything: async () => {
        sockets.dropAll(CloseCode.roomGone, "the room was cleaned up");
        await ctx.storage.deleteAlarm();
        await ctx.storage.deleteAll();
        store.dropped();
        seqUnknown = undefined;
      },
    },
    cfg,
  );
  const membership = new Membership({
    meta,
    members,
    transaction,
    write: (plan, snapshot, lastSeq, touched) => {
      // a room writing its first state has not heard yet what seqs it gave out before (recovery.ts),
      // unless this is its creation: a new room takes its first message without asking anyone
      const fresh = !store.meta();
      store.applyMembership(plan, snapshot, lastSeq, touched ? clock() : null);
      if (fresh && !snapshot.created) {
        store.markSeqUnknown();
        seqUnknown = true;
      }
      // where a later joiner's history starts, for the day this storage is lost (db/room-seq.ts)
      const joined = new Set(plan.joined);
      const joins = fresh ? [] : plan.upserts.filter((m) => joined.has(m.user_id));
      if (joins.length)
        waitUntil(
          db((d) =>
            recordJoinedSeqs(
              d,
              snapshot.room_id,
              joins.map((m) => ({ user_id: m.user_id, joined_at: m.joined_at, joined_seq: m.joined_seq })),
            ),
          ).catch((err) => console.warn(`room ${snapshot.room_id}: joined_seq not recorded: ${String(err)}`)),
        );
    },
    closeWhere: (match, code, reason) => sockets.closeWhere(match, code, reason),
    loadSnapshot: (room) => db((d) => loadRoomSnapshot(d, room)),
    reschedule: () => alarms.reschedule(),
  });
  const storageLimit = new StorageLimit(() => ctx.storage.sql.databaseSize, cfg.roomStorageLimitBytes, roomId);
  const ids = new TimeUuidGenerator();
  const sends = new SendBatcher<FanoutPlan, SenderReads>({
    meta,
    members,
    isMember: (userId) => store.member(userId) !== null,
    transaction,
    commitSends: (m, queued, now) => store.messages.commitSends(m.room_id, queued, now, ids, m.last_seq),
    planFanout: (all, stored, now) => activity.planCommit(all, stored, now),
    sendersRead: (stored, lastSeqBefore, now) => offsets.sent(stored, lastSeqBefore, now),
    deliver: (messages, acks) => sockets.deliver(messages, acks),
    refuse: (ws, error) => sockets.refuse(ws, error, { counts: false }),
    committed: (m, plan, reads, stored, lastSeq, now) => {
      offsets.sentCommitted(reads, now);
      // the first message makes the room's upkeep (retention) due
      if (m.last_seq === 0) waitUntil(alarms.reschedule());
      outbox.noted(now);
      if (plan.push.length) pushes.noted(now);
      report.messagesNoted(now);
      for (const sender of new Set(stored.map((s) => s.sender_id))) {
        coalescer.deliveredTo(sender, plan.delivered, lastSeq);
      }
      coalescer.activityFor(plan.activity);
    },
    storageFull: () => storageLimit.full(),
    nextTurn: (fn) => setTimeout(fn, 0),
    clock,
  });
  const changes = new ChangeApplier({
    meta,
    transaction,
    appliedOp: (userId, opId) => store.messages.appliedOp(userId, opId),
    target: (seq) => store.messages.changeTarget(seq),
    rev: () => store.rev(),
    write: (userId, frame, columns, now) => {
      const message = store.messages.writeChange(roomId(), userId, frame.op_id, frame.seq, columns, now);
      store.setRev(columns.rev);
      // the relay may hold a notification showing it: it hears of the delete (push-batch.ts)
      if (relay && columns.status === "deleted") store.outbox.addPushDelete(frame.seq, now);
      return message;
    },
    storageFull: () => storageLimit.full(),
    broadcast: (frame) => sockets.broadcast(frame),
    send: (ws, frame) => sockets.send(ws, frame),
    refuse: (ws, error) => sockets.refuse(ws, error, { counts: false }),
    changed: (m, message, before, now) => {
      outbox.noted(now);
      if (relay && message.status === "deleted") pushes.noted(now);
      // room lists show the latest message: online members who heard of it hear of its new version
      // (those who hid the room only if it mentioned them, as when it came)
      if (message.seq !== m.last_seq) return;
      const told = store.members().filter((x) => x.subscribed && (!x.hidden || mentions(before, x.user_id)));
      coalescer.activityFor(
        told.map((x) => ({ user_id: x.user_id, mentioned: false })),
        "change",
      );
    },
    clock,
  });
  // read on every send and stream open: kept in memory, written through
  let seqUnknown: boolean | undefined;
  const recovering = () => (seqUnknown ??= store.seqUnknown());
  const reported = () => store.seqReported();
  const recovery = new Recovery({
    meta,
    pending: recovering,
    database: (room) => db((d) => loadRoomSeqFacts(d, room)),
    archive: sink ? (room) => sink.seqFacts(room) : null,
    restore: (lastSeq, readOffsets, pgSeq, joinedFrom) => {
      transaction(() => store.restoreSequence(lastSeq, readOffsets, pgSeq, joinedFrom));
      seqUnknown = false;
    },
    wake,
    clock,
  });
  const report = new RoomReport(
    {
      meta,
      recovering,
      reported,
      setReported: (seq) => store.setSeqReported(seq),
      uncopied: () => store.uncopiedReads(),
      markCopied: (rows) => store.readsCopied(rows),
      send: (room, { seq, reads }) =>
        db((d) =>
          reportRoom(d, room, {
            seq,
            activityAt: seq !== null ? (store.messages.message(room, seq)?.created_at ?? null) : null,
            reads,
          }),
        ),
      wake,
      clock,
    },
    cfg.roomReportMs,
  );
  const announcements = new Announcements<RoomEvent>(
    (userId, event) => session(userId).roomEvent(roomId(), event),
    SESSION_PARALLELISM,
    wake,
  );
  // the order the alarm runs them in: sockets first (a closed socket changes who is online, and
  // so who is pushed), the session fan-out of room events last (up to 1,000 calls; nothing else
  // waits for it)
  jobs.push(
    { dueAt: () => sockets.dueAt(), run: (now) => sockets.sweep(now) },
    recovery,
    coalescer,
    outbox,
    upkeep,
    report,
    pushes,
    announcements,
  );
  // replay bytes written to opening streams, shared by all of them (replay.ts says why)
  const replayBudget = new TokenBucket({ perSecond: cfg.replayBytesPerSecond, burst: cfg.replayBurstBytes }, clock());
  return {
    store,
    sockets,
    alarms,
    membership,
    sends,
    changes,
    coalescer,
    offsets,
    sink,
    relay,
    pushes,
    roomId,
    recovery,
    recovering,
    replayBudget,
    announcements,
  };
}
