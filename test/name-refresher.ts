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
import { transactionText } from '../netvm-agent/nft/transaction.js'

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

  /** Addresses (TTL 300), or a failure's text. */
  answer(addresses: Record<string, string[] | string>): void {
    const answers = new Map(Object.entries(addresses).map(([name, a]): [string, Resolution] => [name, typeof a === 'string' ? { error: a } : { addresses: a, ttl: 300 }]))
    this.pending.shift()?.(answers)
  }
}

function setup(opts: { nameservers?: string[]; refuse?: (script: string) => boolean; broken?: () => boolean } = {}) {
  let now = T0
  const scripts: string[] = []
  const dns = new Dns()
  const fx: AgentEffects = {
    runNft: async (transaction) => {
      const script = transactionText(transaction)
      if (opts.refuse?.(script)) throw new NftApplyError('Error: Could not process rule: No such file or directory')
      if (opts.broken?.()) throw new Error('ENOSPC: no space left on device')
      scripts.push(script)
    },
    listNft: async (lists) => lists.map(() => undefined),
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

/** A VM with one name rule answered 192.0.2.10; 300 s on (after `beforeRefresh`), a refresh answered 198.51.100.10. */
async function loadThenRefresh(env: ReturnType<typeof setup>, beforeRefresh: () => void): Promise<void> {
  const replaced = env.agent.replace(parsePush(entries(A, ['action=accept dsthost=www.example proto=tcp'])))
  await env.dns.question()
  env.dns.answer({ 'www.example': ['192.0.2.10'] })
  await replaced
  env.tick(300)
  beforeRefresh()
  const refresh = env.refresher.refresh()
  await env.dns.question()
  env.dns.answer({ 'www.example': ['198.51.100.10'] })
  await refresh
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

t.test('a set change nft refuses: logged, and everything applied again with the names as they stand', async (t) => {
  let refuseElements = false
  const env = setup({ refuse: (script) => refuseElements && script.startsWith('add element ip qubes qf-vm-') })
  const { dns, refresher, scripts, log } = env
  await loadThenRefresh(env, () => (refuseElements = true))
  t.match(log.at(-1), /^refresh refused by nft \(.*No such file or directory\); applying everything again$/)
  t.match(scripts.at(-1), /add element ip qubes qf-vm-10-137-0-5-g1-n0 \{ 192\.0\.2\.10 \}/, 'a fresh chain, the name as it stood (DNS not asked)')
  t.equal(dns.asked.length, 2, 'no question beyond the refused refresh')
  refuseElements = false
  const again = refresher.refresh()
  await dns.question()
  dns.answer({ 'www.example': ['198.51.100.10'] })
  await again
  t.equal(scripts.at(-1), 'add element ip qubes qf-vm-10-137-0-5-g1-n0 { 198.51.100.10 }\n', 'the next refresh changes the fresh chain\'s set')
})

t.test('an unexpected error in a refresh is logged, and refreshes wait --refresh-min-ttl', async (t) => {
  let broken = false
  const env = setup({ broken: () => broken })
  const { refresher, log, timers } = env
  await loadThenRefresh(env, () => (broken = true))
  t.equal(log.at(-1), 'refresh failed (ENOSPC: no space left on device); the next in 30 s', 'logged, not thrown (it would end the daemon)')
  refresher.schedule()
  t.equal(Math.round(timers.waits.at(-1) ?? 0), 30 * 1000 + 100, 'the next refresh waits the minimum')
})

t.test("a re-render (an expiry, SIGHUP) keeps each name as it stands: not dom0's older answer, not a failed name reopened", async (t) => {
  const { agent, dns, refresher, scripts, tick } = setup()
  await agent.replace(parsePush({
    ...entries(A, ['action=drop dsthost=evil.example', 'action=accept dsthost=gone.example']),
    '/qubes-firewall-resolved/10.137.0.5/evil.example': '192.0.2.66',
    '/qubes-firewall-resolved/10.137.0.5/gone.example': '203.0.113.5',
  }))
  tick(30)
  const refresh = refresher.refresh()
  await dns.question()
  dns.answer({ 'evil.example': ['198.51.100.99'], 'gone.example': 'no such name (NXDOMAIN)' })
  await refresh
  // 60 s on: gone.example (failing since) has failed closed, and 192.0.2.66's grace is over
  tick(60)
  const again = refresher.refresh()
  await dns.question()
  dns.answer({ 'gone.example': 'no such name (NXDOMAIN)' })
  await again
  const before = agent.loadedVms().get(A)
  t.same(before?.names.get('gone.example' as never)?.kind, 'failed', 'gone.example failed closed')
  await agent.reapply()
  const after = agent.loadedVms().get(A)
  t.same(after?.resolution.get('evil.example' as never), { addresses: ['198.51.100.99'], ttl: 300 }, "evil.example: the refreshed address, not dom0's")
  t.same(after?.names.get('gone.example' as never)?.kind, 'failed', 'gone.example stays failed')
  const chain = (scripts.at(-1) ?? '').split('\n').filter((l) => l.includes(after?.chain ?? '?'))
  t.ok(chain.some((l) => l.includes('{ 198.51.100.99 }')) && !chain.some((l) => l.includes('192.0.2.66') || l.includes('203.0.113.5')), 'the new chain holds neither old address')
})

t.test('without a nameserver nothing is asked, but a grace still ends on time', async (t) => {
  let servers = ['192.0.2.53']
  const { agent, dns, refresher, timers, tick } = setup()
  Object.assign(refresher, { fx: { ...(refresher as unknown as { fx: object }).fx, nameservers: () => ({ 4: servers, 6: [] }) } })
  const replaced = agent.replace(parsePush(entries(A, ['action=accept dsthost=www.example'])))
  await dns.question()
  dns.answer({ 'www.example': ['192.0.2.10', '192.0.2.11'] })
  await replaced
  tick(300)
  const refresh = refresher.refresh()
  await dns.question()
  dns.answer({ 'www.example': ['192.0.2.10'] })
  await refresh
  servers = []
  refresher.schedule()
  t.equal(refresher.next, T0 + 300 + 300, "the next event is 192.0.2.11's grace end (max(ttl 300, 60) s), not a refresh")
  t.equal(Math.round(timers.waits.at(-1) ?? 0), 300 * 1000 + 100)
  tick(300)
  await refresher.refresh()
  t.same(agent.loadedVms().get(A)?.resolution.get('www.example' as never), { addresses: ['192.0.2.10'], ttl: 300 }, 'the graced address went, DNS not asked')
  t.equal(dns.asked.length, 2)
})
