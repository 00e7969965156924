import type { Context } from "hono";
import { ClientPlatform } from "../../db/index.js";

export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
  platform: number;
}

// Cloudflare sets CF-Connecting-IP at its edge and overwrites any value a client sends.
export function clientInfo(c: Context): ClientInfo {
  const ua = c.req.header("user-agent")?.slice(0, 512) ?? null;
  const declared = c.req.header("x-client-platform")?.toLowerCase();
  let platform: number = ClientPlatform.unknown;
  if (declared && declared in ClientPlatform) platform = ClientPlatform[declared as keyof typeof ClientPlatform];
  else if (ua && /iPhone|iPad|iOS/i.test(ua)) platform = ClientPlatform.ios;
  else if (ua && /Android/i.test(ua)) platform = ClientPlatform.android;
  else if (ua && /Mozilla/i.test(ua)) platform = ClientPlatform.web;
  return { ip: c.req.header("cf-connecting-ip") ?? null, userAgent: ua, platform };
}
