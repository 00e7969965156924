// Local signing keys and secrets, made once on the first `npm start` and kept under .data/.
// Production keys never come from here: they are Worker secrets (wrangler secret put).
import fs from "node:fs";
import path from "node:path";
import { exportJWK, generateKeyPair } from "jose";

export interface DevSecrets {
  JWT_PRIVATE_JWK: string;
  REFRESH_TOKEN_SECRET: string;
  /** the bearer secret between the edge and the cassandra-sink */
  SINK_SECRET: string;
}

const randomSecret = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");

export async function loadOrCreateDevSecrets(file: string): Promise<DevSecrets> {
  if (fs.existsSync(file)) {
    const secrets = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<DevSecrets>;
    // files made before the sink existed lack its secret: add it, keep the rest
    if (secrets.SINK_SECRET) return secrets as DevSecrets;
    const upgraded = { ...secrets, SINK_SECRET: randomSecret() } as DevSecrets;
    fs.writeFileSync(file, JSON.stringify(upgraded, null, 2), { mode: 0o600 });
    return upgraded;
  }
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: `dev-${Date.now().toString(36)}`, alg: "ES256" };
  const secrets: DevSecrets = {
    JWT_PRIVATE_JWK: JSON.stringify(jwk),
    REFRESH_TOKEN_SECRET: randomSecret(),
    SINK_SECRET: randomSecret(),
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
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
