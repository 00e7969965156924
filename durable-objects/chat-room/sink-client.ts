// The cassandra-sink as a ChatRoom sees it: write a batch, read a history page. Both are
// authenticated with the shared secret (protocol/archive.ts names the scheme).
//
// A sink that refuses the secret is counted and logged once per change (shared/secret-refusals.ts).
import {
  ArchiveLastSeq,
  ArchiveOffsetsAnswer,
  SINK_AUTH_SCHEME,
  type ArchiveBatchInput,
  type ArchiveHistoryPage,
  type ArchiveHistoryQuery,
  type HistoryPage,
} from "../../protocol/index.js";
import type { ConfigEnv } from "../../lib/config/index.js";
import { sinkConfig } from "../shared/config.js";
import { SecretRefusals, type SecretHealth } from "../shared/secret-refusals.js";

export interface BatchAnswer {
  /** 0 when the sink could not be reached at all */
  status: number;
  detail: string;
}

export type SinkHealth = SecretHealth;

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export class SinkClient {
  private readonly refusals: SecretRefusals;

  constructor(
    private readonly url: string,
    private readonly secret: string,
    private readonly fetcher: Fetch = (input, init) => fetch(input, init),
  ) {
    this.refusals = new SecretRefusals(`archive sink ${url}`, "SINK_SECRET", "nothing is archived until it is fixed");
  }

  /** null when no sink is configured; a ConfigError when it is configured unsafely (see sinkConfig). */
  static from(env: ConfigEnv): SinkClient | null {
    const c = sinkConfig(env);
    return c ? new SinkClient(c.url, c.secret) : null;
  }

  private get auth() {
    return { authorization: `${SINK_AUTH_SCHEME} ${this.secret}` };
  }

  health(): SinkHealth {
    return this.refusals.health();
  }

  async postBatch(batch: ArchiveBatchInput): Promise<BatchAnswer> {
    let res: Response;
    try {
      res = await this.fetcher(`${this.url}/v1/batches`, {
        method: "POST",
        headers: { ...this.auth, "content-type": "application/json" },
        body: JSON.stringify(batch),
      });
    } catch (err) {
      return { status: 0, detail: String(err) };
    }
    this.refusals.heard(res.status);
    return { status: res.status, detail: res.ok ? "" : (await res.text()).slice(0, 300) };
  }

  async page(roomId: string, q: ArchiveHistoryQuery): Promise<HistoryPage> {
    const params = new URLSearchParams({ limit: String(q.limit) });
    if (q.before_seq !== undefined) params.set("before_seq", String(q.before_seq));
    if (q.after_seq !== undefined) params.set("after_seq", String(q.after_seq));
    const res = await this.fetcher(`${this.url}/v1/rooms/${roomId}/messages?${params}`, { headers: this.auth });
    this.refusals.heard(res.status);
    if (!res.ok) throw new Error(`sink answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    const page = (await res.json()) as ArchiveHistoryPage;
    return { messages: page.messages, has_more: page.has_more };
  }

  /** What the archive knows of a room's sequence: its highest seq and the read offsets (throws when it cannot tell). */
  async seqFacts(roomId: string): Promise<{ last_seq: number; offsets: Array<{ user_id: string; read_seq: number }> }> {
    const get = async (route: string) => {
      const res = await fetch(`${this.url}/v1/rooms/${roomId}/${route}`, { headers: this.auth });
      if (!res.ok) throw new Error(`sink answered ${res.status} to ${route}: ${(await res.text()).slice(0, 200)}`);
      return res.json();
    };
    const [last, offsets] = await Promise.all([get("last-seq"), get("read-offsets")]);
    return {
      last_seq: ArchiveLastSeq.parse(last).last_seq,
      offsets: ArchiveOffsetsAnswer.parse(offsets).offsets.map((o) => ({ user_id: o.user_id, read_seq: o.read_seq })),
    };
  }
}
