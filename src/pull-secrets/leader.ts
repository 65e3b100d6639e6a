// Leader election through a coordination.k8s.io/v1 Lease: acquire when absent or expired, renew
// while held; every write carries the resourceVersion read, so two replicas racing for an expired
// lease cannot both win (the loser gets 409).
import { oneLine } from "../errors.ts";
import { ConflictError, type Kube } from "./kube.ts";

const micro = (ms: number) => new Date(ms).toISOString().replace("Z", "000Z");

export class LeaderElector {
  private held = false;
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

  renewMs(): number {
    return (this.durationSeconds * 1000) / 3;
  }
  retryMs(): number {
    return (this.durationSeconds * 1000) / 2;
  }

  async tryAcquire(): Promise<boolean> {
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
        return this.became(true);
      }
      const s = (cur.spec ?? {}) as {
        holderIdentity?: string;
        renewTime?: string;
        leaseDurationSeconds?: number;
        leaseTransitions?: number;
        acquireTime?: string;
      };
      const mine = s.holderIdentity === this.identity;
      const expired =
        !s.holderIdentity ||
        !s.renewTime ||
        Date.parse(s.renewTime) + (s.leaseDurationSeconds ?? this.durationSeconds) * 1000 < t;
      if (!mine && !expired) return this.became(false);
      await this.kube.replaceLease(namespace, {
        ...cur,
        spec: {
          ...s,
          ...spec,
          acquireTime: mine ? s.acquireTime : micro(t),
          leaseTransitions: (s.leaseTransitions ?? 0) + (mine ? 0 : 1),
        },
      });
      return this.became(true);
    } catch (e) {
      if (!(e instanceof ConflictError)) this.log.warn(`lease ${namespace}/${name}: ${oneLine(e)}`);
      return this.became(false);
    }
  }

  private became(leader: boolean): boolean {
    if (leader !== this.held)
      this.log.info(leader ? `became the leader (${this.identity})` : "not the leader; standing by");
    this.held = leader;
    return leader;
  }

  /** On shutdown: give the lease up so that a standby takes over at once. */
  async release(): Promise<void> {
    if (!this.held) return;
    const { namespace, name } = this.lease;
    try {
      const cur = await this.kube.getLease(namespace, name);
      if (cur && (cur.spec as { holderIdentity?: string })?.holderIdentity === this.identity)
        await this.kube.replaceLease(namespace, {
          ...cur,
          spec: { ...(cur.spec ?? {}), holderIdentity: "", renewTime: undefined },
        });
    } catch {}
    this.held = false;
  }
}
