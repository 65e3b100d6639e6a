// Leader election through a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
// acquire when absent or expired; while held, renew every retry period (a third of the lease
// duration) in the background — also in the middle of a long pass — and count as the leader only
// until the renew deadline (two thirds of the duration) after the last successful renewal. A
// standby takes over no earlier than the full duration after that renewal, so a leader that could
// not renew has stopped writing a third of the duration before anyone else may start. Every
// write carries the resourceVersion read, so two replicas racing for an expired lease cannot both
// win (the loser gets 409).
import { oneLine } from "../errors.ts";
import { ConflictError, type Kube } from "./kube.ts";

const micro = (ms: number) => new Date(ms).toISOString().replace("Z", "000Z");

/** Thrown by `LeaderElector#check` (and so by a write) once the lease is no longer ours. */
export class LostLeadership extends Error {
  constructor() {
    super("lost the leader lease");
  }
}

type LeaseSpec = {
  holderIdentity?: string;
  renewTime?: string;
  leaseDurationSeconds?: number;
  leaseTransitions?: number;
  acquireTime?: string;
};

export class LeaderElector {
  private held = false;
  /** Our clock when the last successful acquire/renew started (what its renewTime says). */
  private renewedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<unknown> | undefined;
  private onLost: (() => void) | undefined;
  private kube: Kube;
  private lease: { namespace: string; name: string };
  private identity: string;
  private now: () => number;
  private log: { info(m: string): void; warn(m: string): void };
  private durationSeconds: number;
  constructor(
    kube: Kube,
    lease: { namespace: string; name: string },
    identity: string,
    now: () => number,
    log: { info(m: string): void; warn(m: string): void },
    durationSeconds = 15,
  ) {
    this.kube = kube;
    this.lease = lease;
    this.identity = identity;
    this.now = now;
    this.log = log;
    this.durationSeconds = durationSeconds;
  }

  /** client-go's RetryPeriod: how often the holder renews (and a standby retries). */
  renewMs(): number {
    return (this.durationSeconds * 1000) / 3;
  }
  /** client-go's RenewDeadline: without a successful renewal for this long the holder steps down. */
  deadlineMs(): number {
    return (this.durationSeconds * 2000) / 3;
  }
  retryMs(): number {
    return (this.durationSeconds * 1000) / 2;
  }

  /** Whether we may write now: we hold the lease and renewed it within the renew deadline. */
  isLeader(): boolean {
    if (this.held && this.now() - this.renewedAt >= this.deadlineMs()) this.lose("could not renew the lease in time");
    return this.held;
  }

  /** Before every write: throws LostLeadership unless `isLeader()`. */
  check(): void {
    if (!this.isLeader()) throw new LostLeadership();
  }

  /** A standby's attempt to take the lease (or the holder's renewal); true when it is ours. */
  async tryAcquire(): Promise<boolean> {
    const r = await this.attempt();
    if (r === "held") this.became(true);
    else if (r === "other" || !this.held) this.became(false);
    if (this.held) this.schedule();
    return this.held;
  }

  private async attempt(): Promise<"held" | "other" | "error"> {
    const { namespace, name } = this.lease;
    const t = this.now();
    try {
      const cur = await this.kube.getLease(namespace, name);
      const spec = {
        holderIdentity: this.identity,
        leaseDurationSeconds: this.durationSeconds,
        renewTime: micro(t),
      };
      if (!cur) {
        await this.kube.createLease(namespace, {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, namespace },
          spec: { ...spec, acquireTime: micro(t), leaseTransitions: 0 },
        });
        this.renewedAt = t;
        return "held";
      }
      const s = (cur.spec ?? {}) as LeaseSpec;
      const mine = s.holderIdentity === this.identity;
      const expired =
        !s.holderIdentity ||
        !s.renewTime ||
        Date.parse(s.renewTime) + (s.leaseDurationSeconds ?? this.durationSeconds) * 1000 < t;
      if (!mine && !expired) return "other";
      await this.kube.replaceLease(namespace, {
        ...cur,
        spec: {
          ...s,
          ...spec,
          acquireTime: mine ? s.acquireTime : micro(t),
          leaseTransitions: (s.leaseTransitions ?? 0) + (mine ? 0 : 1),
        },
      });
      this.renewedAt = t;
      return "held";
    } catch (e) {
      // 409: another replica wrote the lease between our read and our write; it is theirs.
      if (e instanceof ConflictError) return "other";
      this.log.warn(`lease ${namespace}/${name}: ${oneLine(e)}`);
      return "error";
    }
  }

  /** Called once when leadership is lost (another holder, or no renewal within the deadline). */
  whenLost(fn: () => void): void {
    this.onLost = fn;
  }

  private schedule(): void {
    if (this.timer || this.inflight) return;
    this.timer = setTimeout(() => void this.renewLoop(), this.renewMs());
  }

  private async renewLoop(): Promise<void> {
    this.timer = undefined;
    if (!this.held) return;
    const p = this.attempt();
    this.inflight = p;
    const r = await p;
    this.inflight = undefined;
    if (!this.held) return; // released or lost meanwhile
    if (r === "other") this.lose("another replica holds the lease");
    else if (r === "error") this.isLeader(); // steps down once past the renew deadline
    if (this.held) this.schedule();
  }

  private lose(why: string): void {
    this.log.warn(`lost leadership (${why}); stopping writes and standing by`);
    this.became(false);
    const f = this.onLost;
    f?.();
  }

  private became(leader: boolean): void {
    if (leader !== this.held)
      this.log.info(leader ? `became the leader (${this.identity})` : "not the leader; standing by");
    this.held = leader;
    if (!leader) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** On shutdown (client-go's ReleaseOnCancel): give the lease up so that a standby takes over at once. */
  async release(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.held) return;
    this.held = false;
    await this.inflight; // a renewal under way would otherwise overwrite the release
    const { namespace, name } = this.lease;
    try {
      const cur = await this.kube.getLease(namespace, name);
      if (cur && (cur.spec as LeaseSpec | undefined)?.holderIdentity === this.identity)
        await this.kube.replaceLease(namespace, {
          ...cur,
          spec: { ...(cur.spec ?? {}), holderIdentity: "", leaseDurationSeconds: 1, renewTime: micro(this.now()) },
        });
    } catch {}
  }
}
