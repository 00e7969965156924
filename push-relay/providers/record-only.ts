// A provider without credentials (APNs or FCM on a laptop): it delivers nothing and logs what it
// would have sent, so the whole system runs without Apple's or Google's keys and the push rows and
// delivery logs still show every decision the relay made.
import type { Outcome, ProviderName, PushContent, PushProvider, PushTarget } from "./types.js";

export class RecordOnlyProvider implements PushProvider {
  readonly live = false;

  constructor(
    readonly name: ProviderName,
    private readonly log: (line: string) => void = (l) => console.log(`[push-relay] ${l}`),
  ) {}

  async send(target: PushTarget, content: PushContent): Promise<Outcome> {
    this.log(
      `${this.name} record-only: device ${target.device_id} room ${content.room_id} seq ${content.seq} ` +
        `(${content.count} message${content.count === 1 ? "" : "s"}, badge ${content.badge}): "${content.title}"`,
    );
    return { kind: "recorded" };
  }

  async close(): Promise<void> {}
}
