// The caps on sockets per user and per (user, device) in one object, with O(1) answers to "does
// this user (device) still hold one": asked for every socket that leaves, where a scan would make
// closing N sockets cost N².
import type { SocketInfo } from "./sockets.js";

/** Counts by key; a key whose count reaches 0 is dropped. */
class Counts {
  private readonly n = new Map<string, number>();
  get(key: string): number {
    return this.n.get(key) ?? 0;
  }
  add(key: string, by: 1 | -1): void {
    const v = this.get(key) + by;
    if (v > 0) this.n.set(key, v);
    else this.n.delete(key);
  }
  has(key: string): boolean {
    return this.n.has(key);
  }
}

const deviceKey = (userId: string, deviceId: string) => `${userId}\n${deviceId}`;

export class SocketCaps {
  private readonly perUser = new Counts();
  private readonly perDevice = new Counts();

  /** unset: no cap */
  constructor(private readonly limits: { maxPerUser?: number; maxPerDevice?: number }) {}

  add(info: Pick<SocketInfo, "userId" | "deviceId">): void {
    this.perUser.add(info.userId, 1);
    this.perDevice.add(deviceKey(info.userId, info.deviceId), 1);
  }

  remove(info: Pick<SocketInfo, "userId" | "deviceId">): void {
    this.perUser.add(info.userId, -1);
    this.perDevice.add(deviceKey(info.userId, info.deviceId), -1);
  }

  hasUser(userId: string): boolean {
    return this.perUser.has(userId);
  }

  hasDevice(userId: string, deviceId: string): boolean {
    return this.perDevice.has(deviceKey(userId, deviceId));
  }

  /** Why this user's device may not open another socket, or null. */
  refusal(info: Pick<SocketInfo, "userId" | "deviceId">): string | null {
    const { maxPerUser, maxPerDevice } = this.limits;
    if (maxPerDevice !== undefined && this.perDevice.get(deviceKey(info.userId, info.deviceId)) >= maxPerDevice)
      return `at most ${maxPerDevice} sockets per device here; close one first`;
    if (maxPerUser !== undefined && this.perUser.get(info.userId) >= maxPerUser)
      return `at most ${maxPerUser} sockets per user here; close one first`;
    return null;
  }
}
