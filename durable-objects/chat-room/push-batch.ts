// How a flush turns the push outbox into one PushBatch (protocol/push.ts): which messages go, who
// they are for, and the read offsets with them. Pure, so the rules are tested without a runtime.
//
// The audience is decided once per batch, from the room's state at the flush, not per message at
// commit: a member is in it when they are offline now (no subscribed session, no stream here) and
// the batch holds a message they have not had yet — one after everything they joined at, read,
// were delivered (a stream, or an activity their session took) or were pushed before, not their
// own, and, if they muted or hid the room, one that mentions them (mention_all included: the room
// stored it only for a sender whose role may). Rooms up to PUSH_AUDIENCE_LIST_MAX members name
// that audience (`only`, the muted and hidden ones also as `quiet`); larger rooms name everyone
// else (`except`), and the relay resolves the rest from chat_members.
//
// A message deleted before its batch left is not pushed at all; one deleted after it may show in
// a notification the relay holds (pending, or sent): the batch names it in `deleted_seqs` and the
// relay clears that preview.
import {
  PUSH_AUDIENCE_LIST_MAX,
  PUSH_BATCH_MAX_BYTES,
  PUSH_BATCH_MAX_MESSAGES,
  PUSH_PREVIEW_MAX_CHARS,
  MAX_GROUP_MEMBERS,
  ROOM_NAME_MAX,
  type Message,
  type PushAudience,
  type PushBatch,
  type PushMessage,
  type PushRead,
} from "../../protocol/index.js";
import { mentions, quiet } from "./fanout.js";
import type { MemberState } from "./members.js";
import type { RoomMeta } from "./store.js";

export interface PushSettings {
  maxMessages: number;
  previewMaxChars: number;
  audienceListMax: number;
  maxBytes: number;
}

export const DEFAULT_PUSH: PushSettings = {
  maxMessages: PUSH_BATCH_MAX_MESSAGES,
  previewMaxChars: PUSH_PREVIEW_MAX_CHARS,
  audienceListMax: PUSH_AUDIENCE_LIST_MAX,
  // a margin under the relay's bound: the size below is counted on the JSON text's UTF-8
  maxBytes: PUSH_BATCH_MAX_BYTES - 1024,
};

export type PushMember = Pick<
  MemberState,
  "user_id" | "joined_seq" | "read_seq" | "delivered_seq" | "pushed_seq" | "subscribed" | "hidden" | "muted"
>;

/** The first `max` code points of a body (an emoji counts once and is never cut in half). */
export function preview(body: string, max: number): string {
  let out = "";
  let n = 0;
  for (const ch of body) {
    if (n++ === max) break;
    out += ch;
  }
  return out;
}

export function toPushMessage(m: Message, s: Pick<PushSettings, "previewMaxChars">): PushMessage {
  return {
    seq: m.seq,
    sender_id: m.sender_id,
    preview: preview(m.body, s.previewMaxChars),
    mentions: m.mentions,
    mention_all: m.mention_all,
    created_at: m.created_at,
  };
}

/** The newest seq a member already has (or never will: before they joined). */
const heardUpTo = (m: PushMember) => Math.max(m.joined_seq, m.read_seq, m.delivered_seq, m.pushed_seq ?? 0);

/** Offline members with a message of `messages` still to hear of; `quiet`: those of them who muted or hid the room. */
export function pushAudience(
  members: readonly PushMember[],
  streaming: ReadonlySet<string>,
  messages: readonly Message[],
): { user_ids: string[]; quiet: string[] } {
  const user_ids: string[] = [];
  const quietIds: string[] = [];
  for (const m of members) {
    if (m.subscribed || streaming.has(m.user_id)) continue;
    const had = heardUpTo(m);
    const q = quiet(m);
    const wants = messages.some((x) => x.seq > had && x.sender_id !== m.user_id && (!q || mentions(x, m.user_id)));
    if (!wants) continue;
    user_ids.push(m.user_id);
    if (q) quietIds.push(m.user_id);
  }
  return { user_ids, quiet: quietIds };
}

/** The audience as the relay takes it: named in a small room, by who to leave out in a large one. */
export function audienceFor(
  members: readonly Pick<PushMember, "user_id">[],
  audience: { user_ids: readonly string[]; quiet: readonly string[] },
  s: Pick<PushSettings, "audienceListMax">,
): PushAudience {
  if (members.length <= s.audienceListMax)
    return { mode: "only", user_ids: [...audience.user_ids], quiet: [...audience.quiet] };
  const named = new Set(audience.user_ids);
  return { mode: "except", user_ids: members.filter((m) => !named.has(m.user_id)).map((m) => m.user_id) };
}

/** Only the newest offset of each reader matters. */
export function newestReads(reads: readonly PushRead[]): PushRead[] {
  const byUser = new Map<string, PushRead>();
  for (const r of reads) {
    const had = byUser.get(r.user_id);
    if (!had || had.read_seq <= r.read_seq) byUser.set(r.user_id, { user_id: r.user_id, read_seq: r.read_seq });
  }
  return [...byUser.values()];
}

export interface PushBatchInput {
  batchId: string;
  meta: Pick<RoomMeta, "room_id" | "type" | "last_seq" | "name">;
  /** the waiting messages still in storage, in the order they were queued (oldest first) */
  messages: readonly Message[];
  members: readonly PushMember[];
  /** users holding a stream here */
  streaming: ReadonlySet<string>;
  reads: readonly PushRead[];
  /** seqs deleted since the last batch (outbox rows 'push_delete') */
  deleted?: readonly number[];
}

export interface BuiltPushBatch {
  /** null: nothing to send (no audience and no reads): the rows settle without a request */
  batch: PushBatch | null;
  /** who the batch's messages are for (named, or left to the relay), and the newest seq they carry */
  audience: string[];
  lastSeq: number | null;
  /** seqs of the waiting messages past the batch's bounds (count, bytes), in queue order: not sent */
  left: number[];
}

const utf8 = new TextEncoder();
const bytes = (v: unknown) => utf8.encode(JSON.stringify(v)).length;

/**
 * One batch: the oldest waiting messages, at most `maxMessages` and what fits in `maxBytes` (the
 * rest are `left` for the next batch: dropping them would lose a muted member's mention and the
 * count of a notification), the audience computed over them, and the reads: the newest moved
 * offset of each member, and the offset of each member in the audience (so the relay counts their
 * unread from where they are, not from 0). A batch with no one to push to carries no messages.
 */
export function buildPushBatch(input: PushBatchInput, s: PushSettings = DEFAULT_PUSH): BuiltPushBatch {
  const byId = new Map(input.members.map((m) => [m.user_id, m]));
  const readsFor = (audience: readonly string[]) => {
    const reads = newestReads([
      ...input.reads,
      ...audience.map((id) => {
        const m = byId.get(id)!;
        return { user_id: id, read_seq: Math.max(m.read_seq, m.joined_seq) };
      }),
    ]);
    // the relay's bound; only members who left with a read still waiting can pass it, and they give way
    if (reads.length <= MAX_GROUP_MEMBERS) return reads;
    const gone = reads.filter((r) => !byId.has(r.user_id));
    return [...reads.filter((r) => byId.has(r.user_id)), ...gone].slice(0, MAX_GROUP_MEMBERS);
  };
  const deleted = [...new Set(input.deleted ?? [])].sort((a, b) => a - b);
  const shell = (msgs: PushMessage[], audience: PushAudience | null, reads: PushRead[]): PushBatch => ({
    batch_id: input.batchId,
    room_id: input.meta.room_id,
    room_type: input.meta.type,
    // the API keeps names to ROOM_NAME_MAX (100) code points, at most the 200 UTF-16 units the relay takes
    room_name: input.meta.name ? preview(input.meta.name, ROOM_NAME_MAX) : null,
    last_seq: input.meta.last_seq,
    messages: msgs,
    audience,
    reads,
    ...(deleted.length ? { deleted_seqs: deleted } : {}),
  });
  const live = input.messages.filter((m) => m.status !== "deleted");
  const pushMessages = live.map((m) => toPushMessage(m, s));
  const sizes = pushMessages.map((m) => bytes(m) + 1);
  // the oldest queued first, as many as the bounds take: the rest wait for the next batch
  let k = Math.min(live.length, s.maxMessages);
  let who = pushAudience(input.members, input.streaming, live.slice(0, k));
  // Cut by bytes from the newest end. The frame is measured again after each cut: fewer messages
  // can mean a smaller audience, and in a large room a longer list of members to leave out.
  while (who.user_ids.length > 0 && k > 1) {
    const frame = bytes(shell([], audienceFor(input.members, who, s), readsFor(who.user_ids)));
    let total = frame + sizes.slice(0, k).reduce((a, b) => a + b, 0);
    if (total <= s.maxBytes) break;
    while (k > 1 && total > s.maxBytes) total -= sizes[--k]!;
    who = pushAudience(input.members, input.streaming, live.slice(0, k));
  }
  const left = live.slice(k).map((m) => m.seq);
  const sent = who.user_ids.length ? pushMessages.slice(0, k).sort((a, b) => a.seq - b.seq) : [];
  const audienceIds = sent.length ? who.user_ids : [];
  const reads = readsFor(audienceIds);
  if (sent.length === 0 && reads.length === 0 && deleted.length === 0)
    return { batch: null, audience: [], lastSeq: null, left };
  return {
    batch: shell(sent, sent.length ? audienceFor(input.members, who, s) : null, reads),
    audience: audienceIds,
    lastSeq: sent.at(-1)?.seq ?? null,
    left,
  };
}
