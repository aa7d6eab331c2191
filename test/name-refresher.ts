// The daemon's refresher (daemon/refresher.ts) with fake effects and timers: it asks DNS outside the
// one-change-at-a-time queue, so an update is answered while a refresh still waits on DNS; only
// the answers' taking-in queues. It schedules for the earliest due name, asks only due names,
// stays off without a nameserver, and answers a set change nft refuses with a full reapply.
import t from 'tap'
import type { EpochSeconds } from '../common/rule/model.js'
import { Agent, type AgentEffects } from '../netvm-agent/agent.js'
import { NameRefresher } from '../netvm-agent/daemon/refresher.js'
import { serialised } from '../netvm-agent/daemon/serial.js'
import type { Timers } from '../netvm-agent/daemon/expiry.js'
import { NftApplyError } from '../netvm-agent/errors.js'
import type { RefreshPolicy } from '../netvm-agent/names/name-state.js'
import { parsePush } from '../netvm-agent/push/parse.js'
import type { Resolution } from '../netvm-agent/push/model.js'

const T0 = 1_800_000_000
const POLICY: RefreshPolicy = { minTtl: 30, maxTtl: 3600, graceFloor: 60 }
const A = '10.137.0.5'
const B = '10.137.0.6'

function entries(ip: string, rules: string[]): Record<string, string> {
  const e: Record<string, string> = { [`/qubes-firewall/${ip}`]: '', [`/qubes-firewall/${ip}/policy`]: 'drop' }
  rules.forEach((rule, i) => (e[`/qubes-firewall/${ip}/${String(i).padStart(4, '0')}`] = rule))
  return e
}

/** A DNS whose answers the test hands out: each resolve() call waits until answered. */
class Dns {
  readonly asked: string[][] = []
  private pending: ((answers: Map<string, Resolution>) => void)[] = []
  private waiters: (() => void)[] = []

  resolve = (names: readonly string[]) =>
    new Promise<Map<string, Resolution>>((resolve) => {
      this.asked.push([...names])
      this.pending.push(resolve)
      this.waiters.splice(0).forEach((w) => w())
    })

  /** Resolves once a question is pending. */
  async question(): Promise<void> {
    if (this.pending.length === 0) await new Promise<void>((resolve) => this.waiters.push(resolve))
  }

  answer(addresses: Record<string, string[]>): void {
    const answers = new Map(Object.entries(addresses).map(([name, a]) => [name, { addresses: a, ttl: 300 } as Resolution]))
    this.pending.shift()?.(answers)
  }
}

function setup(opts: { nameservers?: string[]; refuse?: (script: string) => boolean } = {}) {
  let now = T0
  const scripts: string[] = []
  const dns = new Dns()
  const fx: AgentEffects = {
    runNft: async (script) => {
      if (opts.refuse?.(script)) throw new NftApplyError('Error: Could not process rule: No such file or directory')
      scripts.push(script)
    },
    listNft: async () => undefined,
    resolve: (names) => dns.resolve(names),
    nameservers: () => ({ 4: opts.nameservers ?? ['192.0.2.53'], 6: [] }),
    now: () => now as EpochSeconds,
  }
  const timers: Timers & { waits: number[] } = {
    waits: [],
    now: () => now * 1000,
    set(_run, ms) {
      this.waits.push(ms)
      return setTimeout(() => {}, 0)
    },
    clear: (timer) => clearTimeout(timer),
  }
  const agent = new Agent(fx)
  const exclusive = serialised()
  const log: string[] = []
  const refresher = new NameRefresher(agent, fx, exclusive, POLICY, (line) => log.push(line), () => {}, timers)
  return { agent, dns, exclusive, refresher, scripts, timers, log, tick: (s: number) => (now += s) }
}

t.test('an update is answered while a refresh waits on DNS; the refresh then takes its answer in', async (t) => {
  const { agent, dns, exclusive, refresher, scripts, tick } = setup()
  const replaced = agent.replace(parsePush(entries(A, ['action=accept dsthost=www.example proto=tcp'])))
  await dns.question()
  dns.answer({ 'www.example': ['192.0.2.10'] })
  t.equal((await replaced).ok, true)
  tick(300)
  let refreshed = false
  const refresh = refresher.refresh().then(() => (refreshed = true))
  await dns.question()
  const update = await exclusive(() => agent.update(parsePush(entries(B, ['action=accept dst4=192.0.2.1/32']))))
  t.same([update.ok, update.applied, refreshed], [true, [B], false], 'the update is in while DNS has not answered the refresh')
  dns.answer({ 'www.example': ['198.51.100.10'] })
  await refresh
  t.match(scripts.at(-1), /^add element ip qubes qf-vm-10-137-0-5-g0-n0 \{ 198\.51\.100\.10 \}\n$/, 'then only the set changes')
  t.same(agent.loadedVms().get(A)?.resolution.get('www.example' as never), { addresses: ['198.51.100.10', '192.0.2.10'], ttl: 300 }, 'the old address in its grace')
})

t.test('schedule: the earliest due name sets the timer; only due names are asked', async (t) => {
  const { agent, dns, refresher, timers, tick } = setup()
  const replaced = agent.replace(parsePush({
    ...entries(A, ['action=accept dsthost=a.example', 'action=accept dsthost=b.example']),
    '/qubes-firewall-resolved/10.137.0.5/b.example': '192.0.2.2',
  }))
  await dns.question()
  dns.answer({ 'a.example': ['192.0.2.1'] })
  await replaced
  refresher.schedule()
  // b.example is dom0's answer: no TTL, due after minTtl (30 s); a.example lives 300 s
  t.same([timers.waits.at(-1), refresher.next], [30 * 1000 + 100, T0 + 30])
  tick(30)
  // requests keep rescheduling while b is due: the moment stays, it is not put off
  refresher.schedule()
  tick(0.05)
  refresher.schedule()
  t.same(timers.waits.slice(-2), [100, 50], 'each schedule aims at the same moment')
  const refresh = refresher.refresh()
  await dns.question()
  t.same(dns.asked.at(-1), ['b.example'], 'only the due name is asked')
  dns.answer({ 'b.example': ['192.0.2.2'] })
  await refresh
})

t.test('without a nameserver nothing is scheduled', async (t) => {
  const { agent, refresher, timers } = setup({ nameservers: [] })
  await agent.replace(parsePush({ ...entries(A, ['action=accept dsthost=a.example']), '/qubes-firewall-resolved/10.137.0.5/a.example': '192.0.2.1' }))
  refresher.schedule()
  t.same([timers.waits, refresher.enabled()], [[], false])
})

t.test('a set change nft refuses: logged, and everything applied again with names asked afresh', async (t) => {
  let refuseElements = false
  const { agent, dns, refresher, scripts, log, tick } = setup({ refuse: (script) => refuseElements && script.startsWith('add element ip qubes qf-vm-') })
  const replaced = agent.replace(parsePush(entries(A, ['action=accept dsthost=www.example proto=tcp'])))
  await dns.question()
  dns.answer({ 'www.example': ['192.0.2.10'] })
  await replaced
  tick(300)
  refuseElements = true
  const refresh = refresher.refresh()
  await dns.question()
  dns.answer({ 'www.example': ['198.51.100.10'] })
  await dns.question()
  t.match(log.at(-1), /^refresh refused by nft \(.*No such file or directory\); applying everything again$/)
  dns.answer({ 'www.example': ['198.51.100.10'] })
  await refresh
  t.match(scripts.at(-1), /add element ip qubes qf-vm-10-137-0-5-g1-n0 \{ 198\.51\.100\.10 \}/, 'a fresh chain with the new answer')
})
