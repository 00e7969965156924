import { describe, expect, it } from "vitest";
import type { ArchiveHistoryQuery, HistoryPage, Message } from "../../protocol/index.js";
import { historyPage, type HistorySources } from "./history.js";

const msg = (seq: number): Message => ({
  room_id: "r",
  seq,
  message_id: "m",
  sender_id: "u",
  client_message_id: `c${seq}`,
  body: "",
  mentions: [],
  mention_all: false,
  created_at: "t",
});

/** seqs 1..last, of which those >= oldestHot are in the hot tail and the rest in the archive */
function sources(
  last: number,
  oldestHot: number,
  floor = 0,
  withArchive = true,
): HistorySources & { archiveCalls: number } {
  const page = (seqs: number[], q: ArchiveHistoryQuery): HistoryPage => {
    const asc = q.after_seq !== undefined;
    const picked = seqs
      .filter((s) => (q.after_seq === undefined || s > q.after_seq) && (q.before_seq === undefined || s < q.before_seq))
      .sort((a, b) => (asc ? a - b : b - a));
    return { messages: picked.slice(0, q.limit).map(msg), has_more: picked.length > q.limit };
  };
  const all = Array.from({ length: last }, (_, i) => i + 1);
  const src = {
    floor,
    oldestHot,
    lastSeq: last,
    archiveCalls: 0,
    hot: (q: ArchiveHistoryQuery) =>
      page(
        all.filter((s) => s >= oldestHot && s > floor),
        q,
      ),
    archive: withArchive
      ? async (q: ArchiveHistoryQuery) => {
          src.archiveCalls++;
          return page(
            all.filter((s) => s < oldestHot),
            q,
          );
        }
      : null,
  };
  return src;
}

async function walkBack(src: HistorySources, limit: number): Promise<number[]> {
  const seen: number[] = [];
  let before: number | undefined;
  for (;;) {
    const p = await historyPage(src, { limit, ...(before ? { before_seq: before } : {}) });
    seen.push(...p.messages.map((m) => m.seq));
    if (!p.has_more) return seen;
    before = p.messages.at(-1)!.seq;
  }
}

async function walkForward(src: HistorySources, limit: number, from = 0): Promise<number[]> {
  const seen: number[] = [];
  let after = from;
  for (;;) {
    const p = await historyPage(src, { limit, after_seq: after });
    seen.push(...p.messages.map((m) => m.seq));
    if (!p.has_more) return seen;
    after = p.messages.at(-1)!.seq;
  }
}

describe("historyPage", () => {
  it.each([7, 10, 13, 50])(
    "walks back from the newest to seq 1 across the boundary with no gap or duplicate (page %i)",
    async (limit) => {
      expect(await walkBack(sources(100, 37), limit)).toEqual(Array.from({ length: 100 }, (_, i) => 100 - i));
    },
  );
  it.each([7, 10, 50])("walks forward from the start across the boundary (page %i)", async (limit) => {
    expect(await walkForward(sources(100, 37), limit)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });
  it("never shows a member what came before they joined", async () => {
    expect(await walkBack(sources(100, 60, 20), 15)).toEqual(Array.from({ length: 80 }, (_, i) => 100 - i));
    expect(await walkForward(sources(100, 60, 20), 15, 0)).toEqual(Array.from({ length: 80 }, (_, i) => i + 21));
  });
  it("does not ask the archive while the hot tail still holds the page", async () => {
    const src = sources(100, 37);
    const p = await historyPage(src, { limit: 20 });
    expect(p.messages.map((m) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => 100 - i));
    expect(src.archiveCalls).toBe(0);
  });
  it("serves the hot tail alone when no archive is configured", async () => {
    expect(await walkBack(sources(100, 37, 0, false), 30)).toEqual(Array.from({ length: 64 }, (_, i) => 100 - i));
  });
});
