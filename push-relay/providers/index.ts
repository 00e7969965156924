// The relay's providers from its environment. A provider whose credentials are all unset runs
// record-only (record-only.ts), so the system starts on a laptop without Apple's or Google's keys;
// one that is partly configured, or configured wrongly, stops the relay with a ConfigError naming
// the variable, because a silently record-only production would drop every notification.
//
// APNs (token auth):
//   APNS_KEY_P8          the .p8 signing key's PEM contents ("\n" escapes accepted), or
//   APNS_KEY_FILE        a path to the .p8 file (one of the two)
//   APNS_KEY_ID          the key's 10-character id (JWT kid)
//   APNS_TEAM_ID         the 10-character team id (JWT iss)
//   APNS_TOPIC           the app's bundle id, for devices that registered no app id (optional)
//   APNS_PRODUCTION_URL  default https://api.push.apple.com
//   APNS_SANDBOX_URL     default https://api.sandbox.push.apple.com
// FCM HTTP v1:
//   FCM_SERVICE_ACCOUNT_JSON  the service-account JSON itself, or
//   FCM_SERVICE_ACCOUNT_FILE  a path to it (one of the two; its token_uri is where tokens come from)
//   FCM_API_URL               default https://fcm.googleapis.com
// Web Push:
//   VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY  base64url P-256 key pair (web-push generate-vapid-keys)
//   VAPID_SUBJECT                        mailto: or https: contact for push services
//   WEBPUSH_ALLOW_ORIGINS                push-service origins the relay will POST to (lib/push-origins)
// TLS: the system roots, plus NODE_EXTRA_CA_CERTS (Node reads it at start); verification is never off.
import { readFileSync } from "node:fs";
import { ConfigError, type ConfigEnv } from "../../lib/config/index.js";
import { pushOriginRule } from "../../lib/push-origins/index.js";
import { ApnsProvider } from "./apns.js";
import { FcmProvider, parseServiceAccount } from "./fcm.js";
import { RecordOnlyProvider } from "./record-only.js";
import type { ProviderName, PushProvider } from "./types.js";
import { WebPushProvider } from "./webpush.js";

export type Providers = Record<ProviderName, PushProvider>;

export interface ProvidersOptions {
  /** a CA (PEM) to trust instead of the system roots, for every provider: tests' stand-ins */
  ca?: string;
  /** the providers' clock (tests) */
  now?: () => number;
}

const APNS_VARS = [
  "APNS_KEY_P8",
  "APNS_KEY_FILE",
  "APNS_KEY_ID",
  "APNS_TEAM_ID",
  "APNS_TOPIC",
  "APNS_PRODUCTION_URL",
  "APNS_SANDBOX_URL",
] as const;
const FCM_VARS = ["FCM_SERVICE_ACCOUNT_JSON", "FCM_SERVICE_ACCOUNT_FILE", "FCM_API_URL"] as const;
const VAPID_VARS = ["VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY", "VAPID_SUBJECT"] as const;

export function providersFromEnv(env: ConfigEnv, log?: (line: string) => void, opts: ProvidersOptions = {}): Providers {
  const say = log ?? ((l: string) => console.log(`[push-relay] ${l}`));
  const read = (name: string): string | undefined => {
    const v = env[name];
    return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
  };
  const common = { ...(opts.ca ? { ca: opts.ca } : {}), ...(opts.now ? { now: opts.now } : {}) };
  // checked whether or not Web Push is live: the Worker applies the same list at registration
  const allow = pushOriginRule(env.WEBPUSH_ALLOW_ORIGINS);

  const apns = (): PushProvider => {
    if (!anySet(read, APNS_VARS)) return recordOnly("apns", "APNS_KEY_P8 or APNS_KEY_FILE");
    const key = oneOf(read, "APNS_KEY_P8", "APNS_KEY_FILE");
    requireAll("APNs", APNS_VARS, read, [
      ["APNS_KEY_P8 or APNS_KEY_FILE", key !== undefined],
      ["APNS_KEY_ID", read("APNS_KEY_ID") !== undefined],
      ["APNS_TEAM_ID", read("APNS_TEAM_ID") !== undefined],
    ]);
    const pem = key!.name === "APNS_KEY_P8" ? key!.value.replace(/\\n/g, "\n") : readConfigFile(key!.value, key!.name);
    const topic = read("APNS_TOPIC");
    const productionUrl = read("APNS_PRODUCTION_URL");
    const sandboxUrl = read("APNS_SANDBOX_URL");
    const provider = new ApnsProvider({
      key: pem,
      keyId: read("APNS_KEY_ID")!,
      teamId: read("APNS_TEAM_ID")!,
      ...(topic ? { topic } : {}),
      ...(productionUrl ? { productionUrl } : {}),
      ...(sandboxUrl ? { sandboxUrl } : {}),
      ...common,
      log: say,
    });
    say(`apns: live (key ${read("APNS_KEY_ID")}, team ${read("APNS_TEAM_ID")}${topic ? `, topic ${topic}` : ""})`);
    return provider;
  };

  const fcm = (): PushProvider => {
    if (!anySet(read, FCM_VARS)) return recordOnly("fcm", "FCM_SERVICE_ACCOUNT_JSON or FCM_SERVICE_ACCOUNT_FILE");
    const source = oneOf(read, "FCM_SERVICE_ACCOUNT_JSON", "FCM_SERVICE_ACCOUNT_FILE");
    requireAll("FCM", FCM_VARS, read, [["FCM_SERVICE_ACCOUNT_JSON or FCM_SERVICE_ACCOUNT_FILE", source !== undefined]]);
    const json =
      source!.name === "FCM_SERVICE_ACCOUNT_JSON" ? source!.value : readConfigFile(source!.value, source!.name);
    const account = parseServiceAccount(json, source!.name);
    const apiUrl = read("FCM_API_URL");
    const provider = new FcmProvider({ account, ...(apiUrl ? { apiUrl } : {}), ...common });
    say(`fcm: live (project ${account.project_id}, ${account.client_email})`);
    return provider;
  };

  const webpush = (): PushProvider => {
    if (!anySet(read, VAPID_VARS)) return recordOnly("webpush", "VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT");
    requireAll(
      "Web Push",
      VAPID_VARS,
      read,
      VAPID_VARS.map((n) => [n, read(n) !== undefined]),
    );
    const provider = new WebPushProvider({
      vapid: {
        subject: read("VAPID_SUBJECT")!,
        publicKey: read("VAPID_PUBLIC_KEY")!,
        privateKey: read("VAPID_PRIVATE_KEY")!,
      },
      allow,
      ...common,
    });
    say(`webpush: live (VAPID ${read("VAPID_SUBJECT")})`);
    return provider;
  };

  const recordOnly = (name: ProviderName, missing: string): PushProvider => {
    say(`${name}: record-only (${missing} not set)`);
    return new RecordOnlyProvider(name, log);
  };

  return { apns: apns(), fcm: fcm(), webpush: webpush() };
}

type Read = (name: string) => string | undefined;

function anySet(read: Read, names: readonly string[]): boolean {
  return names.some((n) => read(n) !== undefined);
}

/** At most one of two ways to give the same thing. */
function oneOf(read: Read, a: string, b: string): { name: string; value: string } | undefined {
  const va = read(a);
  const vb = read(b);
  if (va !== undefined && vb !== undefined) throw new ConfigError(`set ${a} or ${b}, not both`);
  if (va !== undefined) return { name: a, value: va };
  if (vb !== undefined) return { name: b, value: vb };
  return undefined;
}

function requireAll(
  what: string,
  group: readonly string[],
  read: Read,
  needs: ReadonlyArray<readonly [string, boolean]>,
): void {
  const missing = needs.filter(([, ok]) => !ok).map(([n]) => n);
  if (missing.length === 0) return;
  const set = group.filter((n) => read(n) !== undefined);
  throw new ConfigError(`${what} is partly configured (${set.join(", ")} set): ${missing.join(", ")} missing`);
}

function readConfigFile(path: string, name: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`${name}: cannot read "${path}": ${(err as Error).message}`);
  }
}
