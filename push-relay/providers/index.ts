// The relay's providers from its environment. Until a provider's credentials are configured it
// runs record-only (record-only.ts). The live providers (apns.ts, fcm.ts, webpush.ts) replace
// these entries as they land.
import type { ConfigEnv } from "../../lib/config/index.js";
import { RecordOnlyProvider } from "./record-only.js";
import type { ProviderName, PushProvider } from "./types.js";

export type Providers = Record<ProviderName, PushProvider>;

export function providersFromEnv(_env: ConfigEnv, log?: (line: string) => void): Providers {
  return {
    apns: new RecordOnlyProvider("apns", log),
    fcm: new RecordOnlyProvider("fcm", log),
    webpush: new RecordOnlyProvider("webpush", log),
  };
}
