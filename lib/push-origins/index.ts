// Which Web Push endpoints the system will POST to. A subscription endpoint comes from a client,
// so without a list the relay would send signed requests wherever anyone asks (a request
// forger). Both the Worker (at registration) and the relay (at send) apply the same rule.
import { ConfigError } from "../config/index.js";

/** The browser vendors' push services. `*.` matches any subdomain (Windows' WNS hosts vary per region). */
export const DEFAULT_WEBPUSH_ORIGINS: readonly string[] = [
  "https://fcm.googleapis.com",
  "https://updates.push.services.mozilla.com",
  "https://web.push.apple.com",
  "https://*.notify.windows.com",
];

export interface PushOriginRule {
  /** exact origins (scheme://host[:port]) */
  exact: ReadonlySet<string>;
  /** https host suffixes from `https://*.example.com` entries (".example.com") */
  suffixes: readonly string[];
}

/**
 * WEBPUSH_ALLOW_ORIGINS: comma-separated origins, `https:` only (a push endpoint always is);
 * unset or empty means the defaults. A malformed entry is a ConfigError, never ignored.
 */
export function pushOriginRule(value: unknown): PushOriginRule {
  const raw = typeof value === "string" && value.trim() ? value.split(",") : [...DEFAULT_WEBPUSH_ORIGINS];
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const entry of raw.map((s) => s.trim()).filter(Boolean)) {
    const wild = /^https:\/\/\*\.([a-z0-9.-]+)$/i.exec(entry);
    if (wild) {
      suffixes.push(`.${wild[1]!.toLowerCase()}`);
      continue;
    }
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new ConfigError(`WEBPUSH_ALLOW_ORIGINS: "${entry}" is not an origin (e.g. https://fcm.googleapis.com)`);
    }
    if (url.protocol !== "https:" || url.origin !== entry.replace(/\/$/, "")) {
      throw new ConfigError(`WEBPUSH_ALLOW_ORIGINS: "${entry}" must be an https origin with no path`);
    }
    exact.add(url.origin);
  }
  return { exact, suffixes };
}

/** Whether a subscription endpoint belongs to an allowed push service. */
export function isAllowedPushEndpoint(endpoint: string, rule: PushOriginRule): boolean {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  if (url.protocol !== "https:" || url.username || url.password) return false;
  if (rule.exact.has(url.origin)) return true;
  // a wildcard entry names hosts on the default port only
  return url.port === "" && rule.suffixes.some((s) => url.hostname.endsWith(s));
}
