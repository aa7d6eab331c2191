// Following rule expiries: the earliest found by a loop (a spread of 130,000 expiries overflowed the
// call stack), and far expiries reached in steps of a day (Node's timers fire at once past 2^31 ms).
import t from 'tap'
import { ExpiryTimer, LONGEST_WAIT_MS, nextExpiry, type Timers } from '../netvm-agent/daemon/expiry.js'
import type { LoadedVm } from '../netvm-agent/plan.js'
import { parsePush } from '../netvm-agent/push/parse.js'

const NOW = 1_700_000_000

function loaded(vms: number, rulesEach: number, expireOf: (vm: number, rule: number) => number): LoadedVm[] {
  const entries: Record<string, string> = {}
  for (let v = 0; v < vms; v++) {
    const ip = `10.137.0.${v + 2}`
    entries[`/qubes-firewall/${ip}`] = ''
    entries[`/qubes-firewall/${ip}/policy`] = 'drop'
    for (let r = 0; r < rulesEach; r++) entries[`/qubes-firewall/${ip}/${String(r).padStart(4, '0')}`] = `action=accept proto=icmp expire=${expireOf(v, r)}`
  }
  return [...parsePush(entries).vms.values()].map((entry) => ({ entry, resolution: new Map(), names: new Map(), chain: '', sets: new Map(), inOverlay: false }))
}

t.test('the earliest expiry among 13 VMs x 10,000 rules', async (t) => {
  // one rule, somewhere in the middle, expires first
  const vms = loaded(13, 10_000, (v, r) => (v === 7 && r === 4321 ? NOW + 500 : NOW + 1000 + ((v * 7919 + r * 104729) % 100_000)))
  t.equal(nextExpiry(vms, NOW), NOW + 500, 'found without spreading the list')
  t.equal(nextExpiry(vms, NOW + 500), NOW + 1000, 'and the next one after it')
  t.equal(nextExpiry(loaded(1, 3, () => NOW - 5), NOW), undefined, 'past expiries are not waited for')
})

t.test('a far expiry is waited for in steps of a day, a near one at its time', async (t) => {
  const waits: number[] = []
  let fired = 0
  const timers: Timers = { now: () => NOW * 1000, set: (_run, ms) => (waits.push(ms), undefined as unknown as NodeJS.Timeout), clear: () => {} }
  new ExpiryTimer(() => loaded(1, 1, () => NOW + 30 * 86_400), async () => fired++, timers).schedule()
  t.same(waits, [LONGEST_WAIT_MS], 'thirty days ahead: look again in a day')
  new ExpiryTimer(() => loaded(1, 1, () => NOW + 60), async () => fired++, timers).schedule()
  t.equal(waits[1], 60_200, 'a minute ahead: just after it')
  t.equal(fired, 0, 'nothing fired at once')
})

t.test('requests coming faster than the wait after an expiry do not put its re-render off', async (t) => {
  const waits: number[] = []
  let nowMs = (NOW + 60) * 1000
  const timers: Timers = { now: () => nowMs, set: (_run, ms) => (waits.push(ms), undefined as unknown as NodeJS.Timeout), clear: () => {} }
  const timer = new ExpiryTimer(() => loaded(1, 1, () => NOW + 60), async () => {}, timers)
  for (const passed of [0, 50, 100, 150, 250]) {
    nowMs = (NOW + 60) * 1000 + passed
    timer.schedule()
  }
  t.same(waits.map(Math.round), [200, 150, 100, 50], 'each schedule aims at the same moment; past it, nothing is left to wait for')
})
