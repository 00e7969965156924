import type { MiddlewareHandler } from "hono";
import type { AppBindings } from "../env.js";
import { unauthorized } from "../http/errors.js";
import { verifyAccessToken } from "../../lib/auth-tokens/index.js";

export const requireAuth: MiddlewareHandler<AppBindings> = async (c, next) => {
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer ([A-Za-z0-9_\-.]{1,4096})$/.exec(header);
  if (!match) throw unauthorized();
  const verified = await verifyAccessToken(c.env, match[1]!);
  if (!verified) throw unauthorized("the access token is invalid or expired");
  c.set("auth", verified);
  await next();
};
