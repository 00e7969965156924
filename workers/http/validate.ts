// Body and query parsing that answers bad input with a clear 400 before any handler runs.
import type { Context } from "hono";
import { z } from "zod";
import { Id } from "../../protocol/index.js";
import { invalid } from "./errors.js";

function describe(err: z.ZodError): string {
  return z.prettifyError(err).replace(/\n\s*/g, "; ");
}

export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) throw invalid("the body must be JSON (Content-Type: application/json)");
  let raw: unknown;
  try {
    raw = JSON.parse(await c.req.text());
  } catch {
    throw invalid("the body is not valid JSON");
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw invalid(describe(parsed.error));
  return parsed.data;
}

export function readQuery<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw invalid(describe(parsed.error));
  return parsed.data;
}

export function idParam(c: Context, name: string): string {
  const parsed = Id.safeParse(c.req.param(name));
  if (!parsed.success) throw invalid(`${name} must be a UUID`);
  return parsed.data;
}
