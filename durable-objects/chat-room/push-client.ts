// The push-relay as a ChatRoom sees it: one call, POST /v1/batches with a PushBatch, authenticated
// with the relay's shared secret (protocol/push.ts is the contract).
//
// A relay that refuses the secret is counted and logged once per change (shared/secret-refusals.ts).
import { PUSH_AUTH_SCHEME, PushBatchAnswer, type PushBatch } from "../../protocol/index.js";
import type { ConfigEnv } from "../../lib/config/index.js";
import { pushRelayConfig } from "../shared/config.js";
import { SecretRefusals, type SecretHealth } from "../shared/secret-refusals.js";

export interface PushAnswer {
  /** 0 when the relay could not be reached, or answered 200 with a body that is no PushBatchAnswer */
  status: number;
  detail: string;
  answer?: PushBatchAnswer;
}

export type RelayHealth = SecretHealth;

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/** how long one batch may take before it counts as failed (and is retried as the same batch) */
const REQUEST_TIMEOUT_MS = 10_000;

export class PushClient {
  private readonly refusals: SecretRefusals;

  constructor(
    private readonly url: string,
    private readonly secret: string,
    private readonly fetcher: Fetch = (input, init) => fetch(input, init),
  ) {
    this.refusals = new SecretRefusals(
      `push relay ${url}`,
      "PUSH_RELAY_SECRET",
      "no push leaves this room until it is fixed",
    );
  }

  /** null when no relay is configured; a ConfigError when it is configured unsafely (see pushRelayConfig). */
  static from(env: ConfigEnv): PushClient | null {
    const c = pushRelayConfig(env);
    return c ? new PushClient(c.url, c.secret) : null;
  }

  health(): RelayHealth {
    return this.refusals.health();
  }

  async postBatch(batch: PushBatch): Promise<PushAnswer> {
    let res: Response;
    try {
      res = await this.fetcher(`${this.url}/v1/batches`, {
        method: "POST",
        headers: { authorization: `${PUSH_AUTH_SCHEME} ${this.secret}`, "content-type": "application/json" },
        body: JSON.stringify(batch),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      return { status: 0, detail: String(err) };
    }
    this.refusals.heard(res.status);
    if (!res.ok) return { status: res.status, detail: (await res.text()).slice(0, 300) };
    let body: unknown;
    try {
      body = await res.json();
    } catch (err) {
      return { status: 0, detail: `200 without a JSON body: ${String(err)}` };
    }
    const answer = PushBatchAnswer.safeParse(body);
    if (!answer.success)
      return { status: 0, detail: `200 with an answer that is no PushBatchAnswer: ${answer.error.message}` };
    if (answer.data.batch_id !== batch.batch_id)
      return { status: 0, detail: `200 for batch ${answer.data.batch_id}, not ${batch.batch_id}` };
    return { status: 200, detail: "", answer: answer.data };
  }
}
