// Sends the pending notifications. A loop, woken by the intake after each batch and by a timer for
// the next due retry, claims due rows in batches (FOR UPDATE SKIP LOCKED, then a lease that moves
// scheduled_at ahead, so two relays never take one row), sends each to the recipient's active
// devices, logs one push_delivery_logs row per device attempt and applies what the answers mean
// (outcomes.ts). A device that already has the notification's content (a log row at its seq) is
// not sent it again when other devices are retried.
import { sql } from "drizzle-orm";
import { PushEnvironment, PushOutcome, PushPlatform, PushStatus } from "../db/index.js";
import { MAX_ACTIVE_DEVICES_PER_USER } from "../protocol/limits.js";
import type { DispatchSettings } from "./config.js";
import { contentFor, type PendingNotice } from "./content.js";
import type { RelayMetrics } from "./metrics.js";
import { actionFor, decide, logCode, reasonLabel, type DeviceAction, type Decision } from "./outcomes.js";
import type { Providers } from "./providers/index.js";
import type { Outcome, ProviderName, PushContent, PushTarget } from "./providers/types.js";
import { dbError, list, type RelayDb } from "./store.js";

export interface DispatcherOptions {
  db: RelayDb;
  providers: Providers;
  metrics: RelayMetrics;
  settings: DispatchSettings;
  log: (line: string) => void;
  /** the jitter source (tests pin it) */
  random?: () => number;
}

interface Claimed extends PendingNotice {
  id: string;
  user_id: string;
  attempts: number;
  /** the scheduled_at our claim set, as PostgreSQL's text (exact): our lease, checked when the outcome is written */
  lease: string;
}

interface Device {
  id: string;
  provider: ProviderName;
  target: PushTarget;
}

interface DeviceHistory {
  /** it has this seq already: delivered, refused or retired at it */
  done: boolean;
  /** tries that ended in a retry */
  retries: number;
  delivered: boolean;
}

const PROVIDER_OF: Record<number, ProviderName> = {
  [PushPlatform.apns]: "apns",
  [PushPlatform.fcm]: "fcm",
  [PushPlatform.webpush]: "webpush",
};
const ENVIRONMENT_OF: Record<number, "production" | "sandbox"> = {
  [PushEnvironment.production]: "production",
  [PushEnvironment.sandbox]: "sandbox",
};
const REASON_MAX = 500;
/** a device with one of these at the notification's seq has been dealt with for that content */
const DONE_OUTCOMES = [PushOutcome.sent, PushOutcome.recorded, PushOutcome.failed, PushOutcome.token_retired];
const statusOf = (o: Outcome): number | null => ("status" in o ? o.status : null);

/** the shortest pause between rounds that claimed less than a batch */
const MIN_SLEEP_MS = 10;

export class Dispatcher {
  private readonly pauses: ProviderPauses;
  private readonly sends: Semaphore;
  private readonly random: () => number;
  private running: Promise<void> | undefined;
  private stopped = false;
  private woken = false;
  private wakeSleeper: (() => void) | undefined;

  constructor(private readonly o: DispatcherOptions) {
    this.pauses = new ProviderPauses(o.settings.providerPauseMs, o.metrics);
    this.sends = new Semaphore(o.settings.sendConcurrency);
    this.random = o.random ?? Math.random;
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** new rows are waiting (the intake took a batch) */
  wake(): void {
    this.woken = true;
    this.wakeSleeper?.();
  }

  /**
   * Lets the round in flight finish (its outcomes are written), then ends the loop. A round stuck
   * on a provider past `timeoutMs` is left behind: its leases run out and another round (or relay)
   * takes its rows.
   */
  async stop(timeoutMs = 15_000): Promise<void> {
    this.stopped = true;
    this.wakeSleeper?.();
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      this.running?.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (late)
      this.o.log(`the dispatch round did not finish within ${timeoutMs / 1000} s; its rows return after their lease`);
    this.pauses.clear();
  }

  /** ms left of a provider's pause (0: not paused) */
  pausedFor(provider: ProviderName): number {
    return this.pauses.remainingMs(provider);
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        const claimed = await this.runOnce();
        failures = 0;
        if (claimed >= this.o.settings.claimBatch || this.stopped) continue;
        if (this.woken) continue;
        const due = await this.nextDueMs();
        // a due row this round did not claim is another relay's (skip locked): not a reason to spin
        const wait = due === null ? this.o.settings.idlePollMs : Math.min(this.o.settings.idlePollMs, due);
        await this.sleep(Math.max(MIN_SLEEP_MS, wait));
      } catch (err) {
        failures += 1;
        this.o.log(`dispatch round failed (${failures} in a row): ${dbError(err)}`);
        await this.sleep(Math.min(30_000, 250 * 2 ** Math.min(failures, 7)));
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeSleeper = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, ms));
      this.wakeSleeper = done;
    });
  }

  private async nextDueMs(): Promise<number | null> {
    // no greatest(0, …) in SQL: greatest ignores a NULL, so an empty queue would read as "due now"
    // and the loop would poll PostgreSQL back to back while idle
    const r = await this.o.db.execute<{ ms: number | null }>(sql`
      select (extract(epoch from (min(scheduled_at) - now())) * 1000)::float8 as ms
      from push_notifications where status = ${PushStatus.pending} and read_at is null`);
    const ms = r.rows[0]?.ms;
    return ms === null || ms === undefined ? null : Math.max(0, Math.ceil(Number(ms)));
  }

  /** One round: claims what is due and dispatches it. Resolves to the number of rows claimed. */
  async runOnce(): Promise<number> {
    this.woken = false;
    const claimed = await this.claim();
    if (claimed.length === 0) return 0;
    const users = [...new Set(claimed.map((n) => n.user_id))];
    const [devices, badges, history] = await Promise.all([
      this.devicesOf(users),
      this.badgesOf(users),
      this.historyOf(claimed),
    ]);
    await Promise.all(
      claimed.map((n) =>
        this.dispatchOne(n, devices.get(n.user_id) ?? [], badges.get(n.user_id) ?? 0, history.get(n.id)).catch(
          (err: unknown) =>
            // its lease runs out and a later round takes it again
            this.o.log(`notification ${n.id}: dispatch failed, retried after the lease: ${dbError(err)}`),
        ),
      ),
    );
    return claimed.length;
  }

  private async claim(): Promise<Claimed[]> {
    const { leaseMs, claimBatch } = this.o.settings;
    const r = await this.o.db.execute<Record<string, unknown>>(sql`
      update push_notifications n
      set scheduled_at = now() + ${leaseMs} * interval '1 millisecond'
      where n.id in (
        select id from push_notifications
        where status = ${PushStatus.pending} and read_at is null and scheduled_at <= now()
        order by scheduled_at
        limit ${claimBatch}
        for update skip locked)
      returning n.id, n.user_id, n.room_id, n.seq, n.count, n.mentioned, n.collapse_key, n.title, n.body,
                n.attempts, n.scheduled_at::text as lease`);
    return r.rows.map((row) => ({
      id: String(row.id),
      user_id: String(row.user_id),
      room_id: String(row.room_id),
      seq: Number(row.seq),
      count: Number(row.count),
      mentioned: Boolean(row.mentioned),
      collapse_key: String(row.collapse_key),
      title: (row.title as string | null) ?? null,
      body: (row.body as string | null) ?? null,
      attempts: Number(row.attempts),
      lease: String(row.lease),
    }));
  }

  private async devicesOf(users: string[]): Promise<Map<string, Device[]>> {
    const r = await this.o.db.execute<{
      id: string;
      user_id: string;
      platform: number;
      token: string;
      p256dh: string | null;
      auth_secret: string | null;
      app_id: string | null;
      environment: number | null;
    }>(sql`
      select id, user_id, platform, token, p256dh, auth_secret, app_id, environment from (
        select *, row_number() over (partition by user_id order by updated_at desc) as nth
        from user_devices where user_id = any(${list(users)}::uuid[]) and active
      ) d where nth <= ${MAX_ACTIVE_DEVICES_PER_USER}`);
    const out = new Map<string, Device[]>();
    for (const row of r.rows) {
      const provider = PROVIDER_OF[row.platform];
      if (!provider) {
        this.o.log(`device ${row.id}: unknown platform ${row.platform}, skipped`);
        continue;
      }
      const environment = row.environment === null ? undefined : ENVIRONMENT_OF[row.environment];
      const target: PushTarget = {
        device_id: row.id,
        platform: provider,
        token: row.token,
        app_id: row.app_id,
        ...(environment ? { environment } : {}),
        ...(row.p256dh ? { p256dh: row.p256dh } : {}),
        ...(row.auth_secret ? { auth: row.auth_secret } : {}),
      };
      const mine = out.get(row.user_id) ?? [];
      mine.push({ id: row.id, provider, target });
      out.set(row.user_id, mine);
    }
    return out;
  }

  /** the user's total unread over every room, as the rooms last reported it */
  private async badgesOf(users: string[]): Promise<Map<string, number>> {
    const r = await this.o.db.execute<{ user_id: string; badge: string }>(sql`
      select user_id, sum(greatest(last_seq - read_seq, 0)) as badge
      from push_unread where user_id = any(${list(users)}::uuid[]) group by user_id`);
    return new Map(r.rows.map((row) => [row.user_id, Number(row.badge)]));
  }

  private async historyOf(claimed: Claimed[]): Promise<Map<string, Map<string, DeviceHistory>>> {
    const r = await this.o.db.execute<{
      notification_id: string;
      device_id: string;
      done: boolean;
      retries: number;
      delivered: boolean;
    }>(sql`
      select l.notification_id, l.device_id,
        bool_or(l.seq = v.seq and l.outcome = any(${list(DONE_OUTCOMES)}::smallint[])) as done,
        (count(*) filter (where l.outcome = ${PushOutcome.retry}))::int as retries,
        bool_or(l.outcome in (${PushOutcome.sent}, ${PushOutcome.recorded})) as delivered
      from push_delivery_logs l
      join unnest(${list(claimed.map((n) => n.id))}::uuid[], ${list(claimed.map((n) => n.seq))}::bigint[]) as v(id, seq)
        on l.notification_id = v.id
      group by l.notification_id, l.device_id`);
    const out = new Map<string, Map<string, DeviceHistory>>();
    for (const row of r.rows) {
      const of = out.get(row.notification_id) ?? new Map<string, DeviceHistory>();
      of.set(row.device_id, { done: row.done, retries: Number(row.retries), delivered: row.delivered });
      out.set(row.notification_id, of);
    }
    return out;
  }

  private async dispatchOne(
    n: Claimed,
    devices: Device[],
    badge: number,
    history: Map<string, DeviceHistory> = new Map(),
  ): Promise<void> {
    const deliveredBefore = [...history.values()].some((h) => h.delivered);
    if (devices.length === 0) {
      this.o.metrics.failed.inc({ provider: "none", reason: "no_active_device" });
      this.o.log(`notification ${n.id} (user ${n.user_id}, room ${n.room_id}): no active device, failed`);
      await this.finish(n, { status: "failed", delayMs: null, failedReason: "no_active_device" }, deliveredBefore, 0);
      return;
    }
    const content = contentFor(n, badge, this.o.settings.ttlSeconds);
    const pauseWaitsMs: number[] = [];
    const toSend: Device[] = [];
    for (const d of devices) {
      if (history.get(d.id)?.done) continue;
      const paused = this.pauses.remainingMs(d.provider);
      if (paused > 0) pauseWaitsMs.push(paused);
      else toSend.push(d);
    }

    const attempt = n.attempts + 1;
    const results = await Promise.all(toSend.map((d) => this.sends.run(() => this.sendOne(d, content))));
    const actions = results.map(({ outcome }, i) =>
      actionFor(outcome, (history.get(toSend[i]!.id)?.retries ?? 0) + 1, this.rule(), this.random),
    );
    if (toSend.length) await this.writeLogs(n, attempt, toSend, results, actions);

    const retired: Array<{ id: string; reason: string }> = [];
    actions.forEach((a, i) => {
      const d = toSend[i]!;
      const provider = d.provider;
      const status = statusOf(results[i]!.outcome) ?? "-";
      switch (a.kind) {
        case "delivered":
          (a.recorded ? this.o.metrics.recorded : this.o.metrics.sent).inc({ provider });
          break;
        case "retire":
          retired.push({ id: d.id, reason: a.reason.slice(0, REASON_MAX) });
          this.o.metrics.tokensRetired.inc({ provider, reason: reasonLabel(a.reason) });
          this.o.log(`device ${d.id} (${provider}): token retired: ${status} ${a.reason}`);
          break;
        case "retry":
          this.o.metrics.retried.inc({ provider, reason: reasonLabel(a.reason) });
          this.o.log(`device ${d.id} (${provider}): ${status} ${a.reason}; retry in ${inWords(a.delayMs)}`);
          break;
        case "give_up":
          this.o.metrics.failed.inc({ provider, reason: "retries_spent" });
          this.o.log(`device ${d.id} (${provider}): ${status} ${a.reason}; tries spent, given up`);
          break;
        case "failed":
          this.o.metrics.failed.inc({ provider, reason: reasonLabel(a.reason) });
          this.o.log(`device ${d.id} (${provider}): refused (${status} ${a.reason}), not retried`);
          break;
        case "pause":
          if (this.pauses.pause(provider)) {
            this.o.metrics.configFaults.inc({ provider, reason: reasonLabel(a.reason) });
            this.o.log(
              `CONFIGURATION FAULT: ${provider} answered ${status} ${a.reason}; ${provider} paused for ` +
                `${Math.round(this.o.settings.providerPauseMs / 1000)} s, no token retired; fix the ${provider} settings`,
            );
          }
          pauseWaitsMs.push(this.pauses.remainingMs(provider));
          break;
      }
    });
    if (retired.length) await this.retire(retired);

    const decision = decide({
      actions,
      pauseWaitsMs,
      deliveredBefore,
      fallbackReason: "refused: every device refused it",
    });
    await this.finish(
      n,
      decision,
      deliveredBefore || actions.some((a) => a.kind === "delivered"),
      toSend.length ? 1 : 0,
    );
  }

  private rule() {
    const s = this.o.settings;
    return { baseMs: s.retryBaseMs, quotaBaseMs: s.quotaBaseMs, capMs: s.retryCapMs, maxTries: s.maxTries };
  }

  private async sendOne(d: Device, content: PushContent): Promise<{ outcome: Outcome; latencyMs: number }> {
    const provider = this.o.providers[d.provider];
    const t = performance.now();
    let outcome: Outcome;
    try {
      outcome = await provider.send(d.target, content);
    } catch (err) {
      // providers promise not to throw; one that does is treated like a transport error
      outcome = { kind: "retry", status: 0, reason: `provider error: ${(err as Error).message}` };
    }
    const latencyMs = performance.now() - t;
    this.o.metrics.providerLatency.observe({ provider: d.provider }, latencyMs / 1000);
    return { outcome, latencyMs };
  }

  private async writeLogs(
    n: Claimed,
    attempt: number,
    devices: Device[],
    results: Array<{ outcome: Outcome; latencyMs: number }>,
    actions: DeviceAction[],
  ): Promise<void> {
    const status = results.map(({ outcome }) => statusOf(outcome));
    const error = results.map(({ outcome }) => ("reason" in outcome ? outcome.reason.slice(0, REASON_MAX) : null));
    await this.o.db.execute(sql`
      insert into push_delivery_logs
        (notification_id, device_id, platform, attempt, outcome, status_code, error, latency_ms, seq)
      select ${n.id}::uuid, v.device_id, v.platform, ${attempt}::int, v.outcome, v.status_code, v.error, v.latency_ms,
             ${n.seq}::bigint
      from unnest(${list(devices.map((d) => d.id))}::uuid[],
                  ${list(devices.map((d) => PushPlatform[d.provider]))}::smallint[],
                  ${list(actions.map(logCode))}::smallint[], ${list(status)}::int[], ${list(error)}::text[],
                  ${list(results.map((r) => Math.round(r.latencyMs)))}::int[])
        as v(device_id, platform, outcome, status_code, error, latency_ms)`);
  }

  private async retire(devices: Array<{ id: string; reason: string }>): Promise<void> {
    await this.o.db.execute(sql`
      update user_devices d set active = false, retired_reason = v.reason, retired_at = now(), updated_at = now()
      from unnest(${list(devices.map((d) => d.id))}::uuid[], ${list(devices.map((d) => d.reason))}::text[])
        as v(id, reason)
      where d.id = v.id and d.active`);
  }

  /**
   * Writes where the notification stands, if it is still ours (our lease, or it was read meanwhile:
   * then only sent_at). New messages that reached the row while we sent (its seq moved) keep it
   * pending, due at once, so every device hears of them.
   */
  private async finish(n: Claimed, d: Decision, delivered: boolean, tried: number): Promise<void> {
    const status = PushStatus[d.status];
    const delayMs = d.delayMs ?? 0;
    const r = await this.o.db.execute(sql`
      update push_notifications set
        sent_at = case when ${delivered}::boolean then coalesce(sent_at, now()) else sent_at end,
        attempts = attempts + ${tried}::int,
        status = case when status <> ${PushStatus.pending} then status
                      when seq = ${n.seq} then ${status}::smallint
                      else status end,
        scheduled_at = case when status <> ${PushStatus.pending} then scheduled_at
                            when seq = ${n.seq} and ${status}::smallint <> ${PushStatus.pending} then scheduled_at
                            else now() + ${delayMs} * interval '1 millisecond' end,
        failed_reason = case when status = ${PushStatus.pending} and seq = ${n.seq} and ${status}::smallint = ${PushStatus.failed}
                             then ${d.failedReason}::text else failed_reason end,
        updated_at = now()
      where id = ${n.id} and (status <> ${PushStatus.pending} or scheduled_at = ${n.lease}::timestamptz)
      returning id`);
    if (r.rows.length === 0)
      this.o.log(`notification ${n.id}: its lease ran out before the round ended; another round owns it`);
  }
}

/**
 * Providers paused after a configuration fault, in this relay's memory: every relay finds the fault
 * on its own first send, which costs one request per relay per pause.
 */
class ProviderPauses {
  private readonly until = new Map<ProviderName, { at: number; timer: NodeJS.Timeout }>();

  constructor(
    private readonly pauseMs: number,
    private readonly metrics: RelayMetrics,
  ) {}

  remainingMs(provider: ProviderName): number {
    const p = this.until.get(provider);
    return p ? Math.max(0, p.at - Date.now()) : 0;
  }

  /** false when it was paused already (the fault is reported once per pause) */
  pause(provider: ProviderName): boolean {
    if (this.remainingMs(provider) > 0) return false;
    clearTimeout(this.until.get(provider)?.timer);
    const timer = setTimeout(() => {
      this.until.delete(provider);
      this.metrics.providerPaused.set({ provider }, 0);
    }, this.pauseMs);
    timer.unref();
    this.until.set(provider, { at: Date.now() + this.pauseMs, timer });
    this.metrics.providerPaused.set({ provider }, 1);
    return true;
  }

  clear(): void {
    for (const p of this.until.values()) clearTimeout(p.timer);
    this.until.clear();
  }
}

const inWords = (ms: number) => (ms < 10_000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`);

class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    // a finished task hands its slot straight to the next waiter, so none is taken twice
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    else this.active += 1;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    }
  }
}
