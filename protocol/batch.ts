// Several server frames in one WebSocket message, for streams opened with `batch=1`.
//
// Why: a busy room's cost is mostly one socket write per frame per socket (README, "One room's
// rate and what bounds the latency goals"): workerd writes every WebSocket message with its own
// syscall. A commit of k messages sent to n sockets is k·n writes one frame at a time and n
// written as arrays, so a room that falls behind catches up instead of falling further behind.
//
// The wire form: a message holds one frame object, or a JSON array of frames in order. A single
// frame always goes alone, so a client that opted in still sees the plain form most of the time.
// A client that did not opt in never sees an array (protocol v1: one object a message).

/** An array stops growing once it holds this many UTF-16 units (a bound on memory per write, not a protocol limit). */
export const PACK_MAX_CHARS = 256 * 1024;

/**
 * The messages that carry `frames` (each already JSON) in order: a lone frame as itself, runs of
 * frames as arrays of at most `maxChars` (a frame longer than that on its own still goes, alone).
 */
export function packFrames(frames: readonly string[], maxChars = PACK_MAX_CHARS): string[] {
  if (frames.length <= 1) return frames.slice();
  const out: string[] = [];
  let run: string[] = [];
  let size = 0;
  const close = () => {
    if (run.length === 1) out.push(run[0]!);
    else if (run.length > 1) out.push(`[${run.join(",")}]`);
    run = [];
    size = 0;
  };
  for (const f of frames) {
    // +1 for the comma or bracket each frame brings
    if (run.length > 0 && size + f.length + 1 > maxChars) close();
    run.push(f);
    size += f.length + 1;
  }
  close();
  return out;
}

/** The frames of one WebSocket message: the client side of `packFrames`. */
export function unpackFrames(data: string): unknown[] {
  const parsed: unknown = JSON.parse(data);
  return Array.isArray(parsed) ? parsed : [parsed];
}
