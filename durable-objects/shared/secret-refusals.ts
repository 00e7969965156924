// A service the room calls with a shared secret (the archive sink, the push relay) that refuses
// it (401/403) will not change its mind on a retry: the outbox waits with backoff as for any
// failure, but the room says so loudly (console.error once each time the state changes, not once
// per retry) and counts the refusals for inspect() and operators.

export interface SecretHealth {
  /** answers that refused our secret, since the object started */
  unauthorized: number;
  /** whether the last answer refused it */
  refusing: boolean;
}

export class SecretRefusals {
  private readonly state: SecretHealth = { unauthorized: 0, refusing: false };

  /** e.g. ("archive sink http://…", "SINK_SECRET", "nothing is archived until it is fixed") */
  constructor(
    private readonly service: string,
    private readonly secretName: string,
    private readonly consequence: string,
  ) {}

  health(): SecretHealth {
    return { ...this.state };
  }

  /** Every answer's status: a refusal is counted; a change between refusing and accepting is logged. */
  heard(status: number): void {
    const refused = status === 401 || status === 403;
    if (refused) this.state.unauthorized++;
    if (refused === this.state.refusing || (!refused && (status < 200 || status >= 300))) return;
    this.state.refusing = refused;
    if (refused) console.error(`${this.service} refuses ${this.secretName} (${status}): ${this.consequence}`);
    else console.error(`${this.service} accepts ${this.secretName} again`);
  }
}
