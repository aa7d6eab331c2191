// Re-rendering when a rule expires (the kernel already stops matching at `meta time`; the re-render
// drops the rule and cuts its connections). Far expiries are reached in steps: Node's timers
// overflow past 2^31 ms (24.8 days) and would fire at once, in a loop.
import type { LoadedVm } from '../plan.js'

const LONGEST_WAIT_MS = 24 * 3600 * 1000
/** After the expiry second, so that the kernel's own match has ended. */
const AFTER_EXPIRY_MS = 200

/** The earliest expiry (epoch seconds) after `now` among the loaded rules; a loop, not a spread (lists may be huge). */
export function nextExpiry(vms: Iterable<LoadedVm>, now: number): number | undefined {
  let next: number | undefined
  for (const { entry } of vms) {
    if (!entry.ok) continue
    for (const rule of entry.vm.rules) {
      if (rule.expire !== undefined && rule.expire > now && (next === undefined || rule.expire < next)) next = rule.expire
    }
  }
  return next
}

export class ExpiryTimer {
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly loaded: () => Iterable<LoadedVm>,
    private readonly onExpiry: () => Promise<unknown>,
  ) {}

  /** (Re)schedules for the earliest expiry among what is loaded now. */
  schedule(): void {
    clearTimeout(this.timer)
    const now = Date.now() / 1000
    const next = nextExpiry(this.loaded(), now)
    if (next === undefined) return
    const wait = (next - now) * 1000 + AFTER_EXPIRY_MS
    if (wait > LONGEST_WAIT_MS) {
      // not yet: look again later
      this.timer = setTimeout(() => this.schedule(), LONGEST_WAIT_MS)
    } else {
      this.timer = setTimeout(() => void this.onExpiry().finally(() => this.schedule()), wait)
    }
    this.timer.unref()
  }

  stop(): void {
    clearTimeout(this.timer)
  }
}
