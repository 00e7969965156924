// Turns a raw WebSocket message into a validated client frame, or into the `error` frame that
// answers it. Nothing here touches state: a bad frame must change nothing.
import { z } from "zod";
import { MAX_FRAME_BYTES, withinUtf8Bytes, type ServerFrame } from "../../protocol/index.js";

export type ErrorFrame = Extract<ServerFrame, { type: "error" }>;
export type Parsed<T> = { ok: true; frame: T } | { ok: false; error: ErrorFrame };

const describe = (err: z.ZodError) => z.prettifyError(err).replace(/\n\s*/g, "; ");

/** The `client_message_id`, `op_id` or `id` of whatever object arrived, so an error can point at it. */
function refOf(raw: unknown): string | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  for (const key of ["client_message_id", "op_id", "id"]) {
    const v = r[key];
    if (typeof v === "string" && v.length > 0 && v.length <= 64) return v;
  }
  return undefined;
}

export function errorFrame(code: ErrorFrame["code"], message: string, ref?: string, retryAfterMs?: number): ErrorFrame {
  return {
    type: "error",
    code,
    message,
    ...(ref !== undefined ? { ref } : {}),
    ...(retryAfterMs !== undefined ? { retry_after_ms: retryAfterMs } : {}),
  };
}

export function parseClientFrame<S extends z.ZodType>(message: string | ArrayBuffer, schema: S): Parsed<z.output<S>> {
  if (typeof message !== "string")
    return { ok: false, error: errorFrame("invalid", "frames are JSON text; binary frames are not accepted") };
  if (!withinUtf8Bytes(message, MAX_FRAME_BYTES)) {
    return { ok: false, error: errorFrame("too_large", `a frame is at most ${MAX_FRAME_BYTES} bytes`) };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(message);
  } catch {
    return { ok: false, error: errorFrame("invalid", "the frame is not valid JSON") };
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    return { ok: false, error: errorFrame("invalid", "a frame is a JSON object with a type") };
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return { ok: false, error: errorFrame("invalid", describe(parsed.error), refOf(raw)) };
  return { ok: true, frame: parsed.data };
}
