// Local signing keys and secrets, made once on the first `npm start` and kept under .data/.
// Production keys never come from here: they are Worker secrets (wrangler secret put) and the
// relay's environment.
import fs from "node:fs";
import path from "node:path";
import { exportJWK, generateKeyPair } from "jose";
import webpush from "web-push";

export interface DevSecrets {
  JWT_PRIVATE_JWK: string;
  REFRESH_TOKEN_SECRET: string;
  /** the bearer secret between the edge and the cassandra-sink */
  SINK_SECRET: string;
  /** the bearer secret between the rooms and the push relay */
  PUSH_RELAY_SECRET: string;
  /** the Web Push application server key pair (RFC 8292, base64url): the Worker serves the public half */
  VAPID_PUBLIC_KEY: string;
  /** signs the relay's VAPID JWTs: the relay's alone, never the Worker's */
  VAPID_PRIVATE_KEY: string;
}

const randomSecret = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");

/** What a file made before a service existed lacks gets made; what it has is kept (a new VAPID pair would orphan every browser subscription). */
async function completed(have: Partial<DevSecrets>): Promise<DevSecrets> {
  const out = { ...have };
  if (!out.JWT_PRIVATE_JWK) {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    out.JWT_PRIVATE_JWK = JSON.stringify({
      ...(await exportJWK(privateKey)),
      kid: `dev-${Date.now().toString(36)}`,
      alg: "ES256",
    });
  }
  out.REFRESH_TOKEN_SECRET ||= randomSecret();
  out.SINK_SECRET ||= randomSecret();
  out.PUSH_RELAY_SECRET ||= randomSecret();
  if (!out.VAPID_PUBLIC_KEY || !out.VAPID_PRIVATE_KEY) {
    const pair = webpush.generateVAPIDKeys();
    out.VAPID_PUBLIC_KEY = pair.publicKey;
    out.VAPID_PRIVATE_KEY = pair.privateKey;
  }
  return out as DevSecrets;
}

export async function loadOrCreateDevSecrets(file: string): Promise<DevSecrets> {
  const have: Partial<DevSecrets> = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
  const secrets = await completed(have);
  if (Object.keys(secrets).some((k) => have[k as keyof DevSecrets] !== secrets[k as keyof DevSecrets])) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  }
  return secrets;
}

/** The secrets the edge Worker gets (.data/edge.env): all but the VAPID private key, which only the relay signs with. */
export function edgeSecrets(s: DevSecrets): Record<string, string> {
  return {
    JWT_PRIVATE_JWK: s.JWT_PRIVATE_JWK,
    REFRESH_TOKEN_SECRET: s.REFRESH_TOKEN_SECRET,
    SINK_SECRET: s.SINK_SECRET,
    PUSH_RELAY_SECRET: s.PUSH_RELAY_SECRET,
    VAPID_PUBLIC_KEY: s.VAPID_PUBLIC_KEY,
  };
}

/** KEY='value' lines for wrangler's --env-file (dotenv keeps single-quoted values literal). */
export function toEnvFile(vars: Record<string, string>): string {
  return (
    Object.entries(vars)
      .map(([k, v]) => {
        if (/['\n]/.test(v)) throw new Error(`${k} cannot be written to an env file (quote or newline)`);
        return `${k}='${v}'`;
      })
      .join("\n") + "\n"
  );
}
