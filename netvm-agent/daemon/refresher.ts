// Names follow DNS: when a name's TTL (clamped) runs out, it is asked again, all due names in
// parallel and outside the one-change-at-a-time queue (so updates never wait on DNS); only the
// answers' taking-in queues, as a change. Graces that end are taken in the same way. Without a
// nameserver in resolv.conf nothing is asked, and names keep what dom0 or the last apply gave.
import type { AgentEffects, Agent } from '../agent.js'
import { NftApplyError } from '../errors.js'
import { dueAt, graceEnd, nextEvent, type NameState, type RefreshPolicy } from '../names/name-state.js'
import type { Hostname } from '../../common/rule/model.js'
import type { Resolution } from '../push/model.js'
import { LONGEST_WAIT_MS, REAL_TIMERS, type Timers } from './expiry.js'
import type { Exclusive } from './serial.js'

/** A little after the second it is due, as the clock counts whole seconds. */
const AFTER_DUE_MS = 100

type RefreshEffects = Pick<AgentEffects, 'resolve' | 'nameservers' | 'now'>

function* loadedNames(agent: Agent): Generator<[Hostname, NameState]> {
  for (const vm of agent.loadedVms().namingHosts()) yield* vm.names
}

export class NameRefresher {
  private timer: NodeJS.Timeout | undefined
  private running = false
  /** When the next refresh or grace end is (epoch seconds), for status. */
  next: number | undefined
  /** After an unexpected failure: no refresh before this (epoch seconds). */
  private pausedUntil = 0

  constructor(
    private readonly agent: Agent,
    private readonly fx: RefreshEffects,
    private readonly exclusive: Exclusive,
    readonly policy: RefreshPolicy,
    private readonly log: (message: string) => void,
    /** After a refresh moved these VMs' names: the daemon's clean-up may have work, QubesDB's /dns/ news. */
    private readonly changed: (moved: readonly string[]) => void,
    private readonly timers: Timers = REAL_TIMERS,
  ) {}

  /** Whether names can be asked at all (a nameserver in resolv.conf). */
  enabled(): boolean {
    const servers = this.fx.nameservers()
    return servers[4].length + servers[6].length > 0
  }

  /**
   * (Re)schedules for the earliest due refresh or grace end among what is loaded now. Without a
   * nameserver nothing is asked, but graces still end (a failing name still fails closed).
   */
  schedule(): void {
    this.timers.clear(this.timer)
    this.next = undefined
    const states = [...loadedNames(this.agent)].map(([, state]) => state)
    // no name, nothing to follow: resolv.conf is not read at every request
    if (this.running || states.length === 0) return
    const asking = this.enabled()
    for (const state of states) {
      const at = asking ? nextEvent(state, this.policy) : graceEnd(state, this.policy)
      if (at !== undefined && (this.next === undefined || at < this.next)) this.next = at
    }
    if (this.next === undefined) return
    const next = Math.max(this.next, this.pausedUntil)
    // the moment is fixed (not "a little after now"): requests coming faster than AFTER_DUE_MS must
    // not put a due refresh off for ever
    const wait = Math.max(0, next * 1000 + AFTER_DUE_MS - this.timers.now())
    if (wait > LONGEST_WAIT_MS) this.timer = this.timers.set(() => this.schedule(), LONGEST_WAIT_MS)
    else this.timer = this.timers.set(() => void this.refresh().finally(() => this.schedule()), wait)
  }

  stop(): void {
    this.timers.clear(this.timer)
  }

  /**
   * Asks DNS for every due name (every name, with `all`: SIGHUP), then takes the answers (and
   * ended graces) in as one change. Never throws: what goes wrong is logged, and an unexpected
   * error holds refreshes off for --refresh-min-ttl rather than retrying at once.
   */
  async refresh(all = false): Promise<void> {
    this.running = true
    try {
      const askedAt = this.fx.now()
      const due = new Set<Hostname>()
      if (this.enabled()) for (const [name, state] of loadedNames(this.agent)) if (all || dueAt(state, this.policy) <= askedAt) due.add(name)
      // names are Hostnames in, Hostnames out: the resolver keys its answers by the names asked
      const answers = (due.size === 0 ? new Map() : await this.fx.resolve([...due], this.fx.nameservers())) as ReadonlyMap<Hostname, Resolution>
      const { notes, moved, result } = await this.exclusive(() => this.agent.refreshNames(answers, askedAt, this.policy))
      for (const note of notes) this.log(`name ${note}`)
      if (moved.length > 0 || result) this.changed(moved)
      if (result && !result.ok) this.log(`refresh: ${result.error ?? result.failed.map((f) => `${f.vm}: ${f.error}`).join('; ')}`)
    } catch (err) {
      await this.recover(err)
    } finally {
      this.running = false
    }
  }

  private async recover(err: unknown): Promise<void> {
    try {
      if (!(err instanceof NftApplyError)) throw err
      // the kernel refused a set change: render everything again with the names as they stand
      this.log(`refresh refused by nft (${err.message}); applying everything again`)
      await this.exclusive(() => this.agent.reapply())
    } catch (unexpected) {
      this.pausedUntil = this.fx.now() + this.policy.minTtl
      this.log(`refresh failed (${(unexpected as Error).message}); the next in ${this.policy.minTtl} s`)
    }
  }
}
