// Re-rendering when a rule expires (the kernel already stops matching at `meta time`; the re-render
// drops the rule and cuts its connections). Far expiries are reached in steps: Node's timers
// overflow past 2^31 ms (24.8 days) and would fire at once, in a loop.
import type { LoadedVm } from '../plan.js'
import type { VmEntry } from '../push/model.js'

export const LONGEST_WAIT_MS = 24 * 3600 * 1000
/** After the expiry second, so that the kernel's own match has ended. */
const AFTER_EXPIRY_MS = 200

/** Each VM's rule expiries, in order: worked out once per parsed VM (an entry never changes), not at every change. */
const expiriesOfEntry = new WeakMap<VmEntry, readonly number[]>()

function expiriesOf(entry: VmEntry): readonly number[] {
  let expiries = expiriesOfEntry.get(entry)
  if (expiries === undefined) {
    expiries = entry.ok ? entry.vm.rules.flatMap((rule) => (rule.expire === undefined ? [] : [rule.expire])).sort((a, b) => a - b) : []
    expiriesOfEntry.set(entry, expiries)
  }
  return expiries
}

/**
 * The earliest expiry (epoch seconds) after `now` among the rules of `vms`. It runs after every change
 * (given the VMs with expiries: LoadedVms): a look at each VM's own list of expiries, not at each of its rules.
 */
export function nextExpiry(vms: Iterable<LoadedVm>, now: number): number | undefined {
  let next: number | undefined
  for (const { entry } of vms) {
    const expire = expiriesOf(entry).find((at) => at > now)
    if (expire !== undefined && (next === undefined || expire < next)) next = expire
  }
  return next
}

/** The clock and timers it runs on (tests give their own). */
export interface Timers {
  now: () => number
  set: (run: () => void, ms: number) => NodeJS.Timeout
  clear: (timer: NodeJS.Timeout | undefined) => void
}

export const REAL_TIMERS: Timers = { now: () => Date.now(), set: (run, ms) => setTimeout(run, ms).unref(), clear: (timer) => clearTimeout(timer) }

export class ExpiryTimer {
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly loaded: () => Iterable<LoadedVm>,
    private readonly onExpiry: () => Promise<unknown>,
    private readonly timers: Timers = REAL_TIMERS,
  ) {}

  /** (Re)schedules for the earliest expiry among what is loaded now. */
  schedule(): void {
    this.timers.clear(this.timer)
    const now = this.timers.now() / 1000
    // an expiry in the moment just past still waits for its re-render: requests coming faster than
    // that moment must not put it off for ever
    const next = nextExpiry(this.loaded(), now - AFTER_EXPIRY_MS / 1000)
    if (next === undefined) return
    const wait = Math.max(0, (next - now) * 1000 + AFTER_EXPIRY_MS)
    // a far expiry: not yet, look again later
    if (wait > LONGEST_WAIT_MS) this.timer = this.timers.set(() => this.schedule(), LONGEST_WAIT_MS)
    else this.timer = this.timers.set(() => void this.onExpiry().finally(() => this.schedule()), wait)
  }

  stop(): void {
    this.timers.clear(this.timer)
  }
}
