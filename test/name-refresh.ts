// Names follow DNS by their TTL: a name's state (due, grace, failure), the refresh plan (element
// changes, chains rendered again) and the agent loading it, through fake effects and a moved clock.
import t from 'tap'
import type { EpochSeconds, Hostname } from '../common/rule/model.js'
import { Agent, type AgentEffects, type LoadedVm } from '../netvm-agent/agent.js'
import { afterAnswer, afterClock, dueAt, inForce, nextEvent, stateFromApply, type NameState, type RefreshPolicy } from '../netvm-agent/names/name-state.js'
import { planRefresh } from '../netvm-agent/names/refresh-plan.js'
import { nameSetName, vmChainName } from '../netvm-agent/nft/render.js'
import { serialise } from '../netvm-agent/nft/serialise.js'
import { parsePush } from '../netvm-agent/push/parse.js'
import type { Resolution } from '../netvm-agent/push/model.js'
import { transactionText } from '../netvm-agent/nft/transaction.js'

const T0 = 1_800_000_000
/** Seconds after T0, as the clock counts them. */
const at = (s: number) => (T0 + s) as EpochSeconds
const POLICY: RefreshPolicy = { minTtl: 30, maxTtl: 3600, graceFloor: 60 }
const A = '10.137.0.5'
const A6 = 'fd09:24ef:4179::a89:5'
const WWW = 'www.example' as Hostname
const ok = (addresses: string[], ttl?: number): Resolution => ({ addresses, ...(ttl !== undefined && { ttl }) })
const fail = (error = 'SERVFAIL'): Resolution => ({ error })
const names = <V>(record: Record<string, V>) => new Map(Object.entries(record)) as Map<Hostname, V>

/** A push of one VM in Qubes' QubesDB form, with the names dom0 resolved. */
function push(ip: string, policy: string, rules: string[], dom0: Record<string, string> = {}) {
  const entries: Record<string, string> = { [`/qubes-firewall/${ip}`]: '', [`/qubes-firewall/${ip}/policy`]: policy }
  rules.forEach((rule, i) => (entries[`/qubes-firewall/${ip}/${String(i).padStart(4, '0')}`] = rule))
  for (const [name, value] of Object.entries(dom0)) entries[`/qubes-firewall-resolved/${ip}/${name}`] = value
  return parsePush(entries)
}

const lines = (script: string) => script.split('\n').filter((line) => line !== '')

// 1. name-state: a story of answers (or clock ticks) from an apply at 0, then what the state says
type Step = [at: number, answer?: Resolution]
interface Want { inForce: Resolution; graced: Record<string, number>; due: number; next: number; failingSince?: number }

const stories: [behaviour: string, apply: Resolution, steps: Step[], want: Want][] = [
  ['due: ttl within bounds', ok(['192.0.2.1'], 300), [], { inForce: ok(['192.0.2.1'], 300), graced: {}, due: 300, next: 300 }],
  ['due: ttl below minTtl is raised to it', ok(['192.0.2.1'], 5), [], { inForce: ok(['192.0.2.1'], 5), graced: {}, due: 30, next: 30 }],
  ['due: ttl above maxTtl is lowered to it', ok(['192.0.2.1'], 7200), [], { inForce: ok(['192.0.2.1'], 7200), graced: {}, due: 3600, next: 3600 }],
  ['due: no ttl (dom0\'s answer): minTtl', ok(['192.0.2.1']), [], { inForce: ok(['192.0.2.1']), graced: {}, due: 30, next: 30 }],
  ['a vanished address: graced for the floor when ttl is below it', ok(['192.0.2.1', '192.0.2.2'], 30), [[30, ok(['192.0.2.1'], 30)]],
    { inForce: ok(['192.0.2.1', '192.0.2.2'], 30), graced: { '192.0.2.2': 90 }, due: 60, next: 60 }],
  ['a vanished address: graced for its ttl when above the floor', ok(['192.0.2.1', '192.0.2.2'], 500), [[500, ok(['192.0.2.1'], 500)]],
    { inForce: ok(['192.0.2.1', '192.0.2.2'], 500), graced: { '192.0.2.2': 1000 }, due: 1000, next: 1000 }],
  ['a grace ending before the next refresh is the next event', ok(['192.0.2.1', '192.0.2.2'], 30), [[30, ok(['192.0.2.1'], 300)]],
    { inForce: ok(['192.0.2.1', '192.0.2.2'], 300), graced: { '192.0.2.2': 90 }, due: 330, next: 90 }],
  ['a graced address is in force the second before its end', ok(['192.0.2.1', '192.0.2.2'], 30), [[30, ok(['192.0.2.1'], 300)], [89]],
    { inForce: ok(['192.0.2.1', '192.0.2.2'], 300), graced: { '192.0.2.2': 90 }, due: 330, next: 90 }],
  ['a graced address goes at its end', ok(['192.0.2.1', '192.0.2.2'], 30), [[30, ok(['192.0.2.1'], 300)], [90]],
    { inForce: ok(['192.0.2.1'], 300), graced: {}, due: 330, next: 330 }],
  ['an address back during its grace leaves the grace list', ok(['192.0.2.1', '192.0.2.2'], 30), [[30, ok(['192.0.2.1'], 30)], [60, ok(['192.0.2.2', '192.0.2.1'], 30)]],
    { inForce: ok(['192.0.2.2', '192.0.2.1'], 30), graced: {}, due: 90, next: 90 }],
  ['a failed refresh keeps every address, retried after minTtl', ok(['192.0.2.1'], 100), [[100, fail()]],
    { inForce: ok(['192.0.2.1'], 100), graced: {}, due: 130, next: 130, failingSince: 100 }],
  ['failures go on: since stays the first, the failure grace end is the next event', ok(['192.0.2.1'], 100), [[100, fail()], [130, fail()], [190, fail()]],
    { inForce: ok(['192.0.2.1'], 100), graced: {}, due: 220, next: 200, failingSince: 100 }],
  ['failing a second before max(ttl, floor): still in force', ok(['192.0.2.1'], 10), [[30, fail()], [60, fail()], [89]],
    { inForce: ok(['192.0.2.1'], 10), graced: {}, due: 90, next: 90, failingSince: 30 }],
  ['failing for max(ttl, floor) (the floor): failed', ok(['192.0.2.1'], 10), [[30, fail()], [60, fail('timeout')], [90]],
    { inForce: fail('timeout'), graced: {}, due: 90, next: 90 }],
  ['failing for max(ttl, floor) (the ttl): failed', ok(['192.0.2.1'], 100), [[100, fail()], [130, fail()], [160, fail()], [190, fail()], [200]],
    { inForce: fail(), graced: {}, due: 220, next: 220 }],
  ['failed, failing again: retried every minTtl', fail(), [[30, fail('timeout')]], { inForce: fail('timeout'), graced: {}, due: 60, next: 60 }],
  ['failed, answering again: resolved', fail(), [[30, ok(['192.0.2.3'], 50)]], { inForce: ok(['192.0.2.3'], 50), graced: {}, due: 80, next: 80 }],
]

/** Each step as a refresh takes it in: the answer, then the clock. */
function tell(apply: Resolution, steps: Step[]): NameState {
  let state = stateFromApply(apply, at(0))
  for (const [s, answer] of steps) state = afterClock(answer ? afterAnswer(state, answer, at(s), POLICY) : state, at(s), POLICY)
  return state
}

t.test('name-state: one story per behaviour', async (t) => {
  t.plan(stories.length)
  for (const [behaviour, apply, steps, want] of stories) {
    t.test(behaviour, async (t) => {
      const state = tell(apply, steps)
      t.strictSame(inForce(state), want.inForce, 'in force')
      const graced = state.kind === 'resolved' ? [...state.graced].map(([a, until]) => [a, until - T0]) : []
      t.strictSame(graced, Object.entries(want.graced), 'graced, with their end')
      t.equal(dueAt(state, POLICY), at(want.due), 'due')
      t.equal(nextEvent(state, POLICY), at(want.next), 'next event')
      t.equal(state.kind === 'resolved' ? state.failing?.since : undefined, want.failingSince === undefined ? undefined : at(want.failingSince), 'failing since')
    })
  }
})

// 2. planRefresh on loaded VMs whose states are given as they are
const resolved = (answer: string[], answeredAt: number, ttl?: number, graced: Record<string, number> = {}, failingSince?: number): NameState => ({
  kind: 'resolved', answer, answeredAt: at(answeredAt), ...(ttl !== undefined && { ttl }),
  graced: new Map(Object.entries(graced).map(([a, until]) => [a, at(until)])),
  ...(failingSince !== undefined && { failing: { since: at(failingSince), lastTry: at(failingSince), error: 'SERVFAIL' } }),
})
const failed = (lastTry: number): NameState => ({ kind: 'failed', error: 'SERVFAIL', lastTry: at(lastTry) })

/** A VM loaded with chain g0, one rule per name, and a set for each name that did not fail (as render does). */
function loaded(ip: string, action: 'accept' | 'drop', states: Record<string, NameState>): [string, LoadedVm] {
  const entry = push(ip, 'drop', Object.keys(states).map((name) => `action=${action} dsthost=${name}`)).vms.get(ip)
  if (entry === undefined) throw new Error(`no entry for ${ip}`)
  const chain = vmChainName(ip, '0')
  const live = Object.entries(states).filter(([, s]) => s.kind === 'resolved')
  const sets = names(Object.fromEntries(live.map(([name], i) => [name, nameSetName(chain, i)])))
  const nameStates = names(states)
  return [ip, { entry, names: nameStates, resolution: new Map([...nameStates].map(([n, s]) => [n, inForce(s)])), chain, sets, inOverlay: false }]
}

type PlanCase = [behaviour: string, vms: [string, LoadedVm][], answers: Record<string, Resolution>, askedAt: number, now: number,
  want: { elements: string[]; replan: string[]; states: string[] }]
const SET4 = 'ip qubes qf-vm-10-137-0-5-g0-n0'
const SET6 = 'ip6 qubes qf-vm-fd09-24ef-4179--a89-5-g0-n0'
const CHANGED = resolved(['192.0.2.1', '192.0.2.2', '2001:db8::1'], 0, 60, { '192.0.2.3': 60, '2001:db8::3': 90 })
const NEW_ANSWER = ok(['192.0.2.1', '198.51.100.10', '2001:db8::2'], 60)

const planCases: PlanCase[] = [
  ['(a) a changed answer: graced-over addresses out, new ones in, of the VM\'s family only', [loaded(A, 'accept', { [WWW]: CHANGED }), loaded(A6, 'accept', { [WWW]: CHANGED })],
    { [WWW]: NEW_ANSWER }, 60, 60,
    { elements: [`delete element ${SET4} { 192.0.2.3 }`, `add element ${SET4} { 198.51.100.10 }`, `add element ${SET6} { 2001:db8::2 }`], replan: [], states: [A, A6] }],
  ['(b) a vanished address in its grace: nothing deleted', [loaded(A, 'accept', { [WWW]: resolved(['192.0.2.1', '192.0.2.2'], 0, 300) })],
    { [WWW]: ok(['192.0.2.1'], 300) }, 300, 300, { elements: [], replan: [], states: [A] }],
  ['(b) the second before the grace ends: nothing', [loaded(A, 'accept', { [WWW]: resolved(['192.0.2.1'], 300, 300, { '192.0.2.2': 600 }) })],
    {}, 599, 599, { elements: [], replan: [], states: [] }],
  ['(b) the grace ended: deleted', [loaded(A, 'accept', { [WWW]: resolved(['192.0.2.1'], 300, 300, { '192.0.2.2': 600 }) })],
    {}, 600, 600, { elements: [`delete element ${SET4} { 192.0.2.2 }`], replan: [], states: [A] }],
  ['(c) failed for good: replanned, no element of the VM (not even a changed name\'s)',
    [loaded(A, 'drop', { [WWW]: resolved(['192.0.2.1'], 0, 30), 'cdn.example': resolved(['192.0.2.9'], 0, 30, {}, 30) })],
    { [WWW]: ok(['192.0.2.8'], 30), 'cdn.example': fail() }, 90, 90, { elements: [], replan: [A], states: [A] }],
  ['(c) a failed name resolves again: replanned, no elements', [loaded(A, 'accept', { [WWW]: failed(0) })],
    { [WWW]: ok(['192.0.2.1'], 30) }, 30, 30, { elements: [], replan: [A], states: [A] }],
  ['(c) still failing within its grace: no replan, no elements', [loaded(A, 'drop', { [WWW]: resolved(['192.0.2.1'], 0, 30, {}, 30) })],
    { [WWW]: fail() }, 89, 89, { elements: [], replan: [], states: [A] }],
  ['(d) answered at askedAt: the answer is ignored', [loaded(A, 'accept', { [WWW]: resolved(['192.0.2.1'], 100, 30) })],
    { [WWW]: ok(['192.0.2.9'], 30) }, 100, 105, { elements: [], replan: [], states: [] }],
  ['(d) failed after askedAt: the answer is ignored', [loaded(A, 'accept', { [WWW]: failed(100) })],
    { [WWW]: ok(['192.0.2.9'], 30) }, 90, 105, { elements: [], replan: [], states: [] }],
  ['(d) a failing refresh after askedAt: the answer is ignored', [loaded(A, 'accept', { [WWW]: resolved(['192.0.2.1'], 0, 30, {}, 100) })],
    { [WWW]: ok(['192.0.2.9'], 30) }, 90, 105, { elements: [], replan: [], states: [] }],
  ['(e) nothing due, no grace ending: nothing', [loaded(A, 'accept', { [WWW]: resolved(['192.0.2.1'], 0, 30) })],
    {}, 20, 20, { elements: [], replan: [], states: [] }],
]

t.test('planRefresh: one case per behaviour', async (t) => {
  t.plan(planCases.length)
  for (const [behaviour, vms, answers, askedAt, now, want] of planCases) {
    t.test(behaviour, async (t) => {
      const plan = planRefresh({ loaded: new Map(vms), answers: names(answers), askedAt: at(askedAt), now: at(now), policy: POLICY })
      t.strictSame(lines(serialise(plan.elements)), want.elements, 'element commands')
      t.strictSame([...plan.replan], want.replan, 'replan')
      t.strictSame([...plan.states.keys()], want.states, 'VMs whose states moved')
    })
  }
})

const sameAgain = (answer: string[]) => planRefresh({
  loaded: new Map([loaded(A, 'accept', { [WWW]: resolved(['192.0.2.1', '192.0.2.2'], 0, 30) })]),
  answers: names({ [WWW]: ok(answer, 30) }), askedAt: at(30), now: at(30), policy: POLICY,
})

t.test('(e) planRefresh: the same answer again loads nothing, tells nothing, and is due a ttl later', async (t) => {
  const plan = sameAgain(['192.0.2.1', '192.0.2.2'])
  t.strictSame([plan.elements, [...plan.replan], plan.notes], [[], [], []])
  const state = plan.states.get(A)?.get(WWW)
  t.strictSame(state && [inForce(state), dueAt(state, POLICY)], [ok(['192.0.2.1', '192.0.2.2'], 30), at(60)], 'answeredAt moved on')
  // round-robin DNS rotates its records: the same addresses in another order are the same answer
  const rotated = sameAgain(['192.0.2.2', '192.0.2.1'])
  t.strictSame([rotated.elements, rotated.notes], [[], []], 'a rotated answer (same addresses, another order) is no change')
})

// 3. the agent, through fake effects: what DNS says and the clock are the test's
function fakeAgent(dns: Record<string, Resolution>) {
  const clock = { now: 0 }
  const scripts: string[] = []
  const asked: string[] = []
  const fx: AgentEffects = {
    runNft: async (transaction) => void scripts.push(transactionText(transaction)),
    listNft: async (lists) => lists.map(() => undefined),
    resolve: async (wanted) => (asked.push(...wanted), new Map(wanted.map((n) => [n, dns[n] ?? fail('NXDOMAIN')]))),
    nameservers: () => ({ 4: ['10.139.1.1'], 6: [] }),
    now: () => at(clock.now),
  }
  const agent = new Agent(fx)
  const refresh = (s: number, answers: Record<string, Resolution>) => ((clock.now = s), agent.refreshNames(names(answers), at(s), POLICY))
  const inForceOf = (name: string) => agent.loadedVms().get(A)?.resolution.get(name as Hostname)
  return { agent, scripts, asked, refresh, inForceOf }
}

t.test('refreshNames: a changed answer is one transaction of element changes; graced addresses stay in force', async (t) => {
  const { agent, scripts, asked, refresh, inForceOf } = fakeAgent({ [WWW]: ok(['198.51.100.1', '2001:db8::1'], 100) })
  await agent.replace(push(A, 'drop', ['action=accept dsthost=www.example proto=tcp dstports=443', 'action=accept dsthost=dom0.example'], { 'dom0.example': '192.0.2.7' }))
  t.strictSame(asked, [WWW], 'the agent asks only the name dom0 did not resolve')
  await refresh(100, { [WWW]: ok(['198.51.100.10'], 100) })
  t.strictSame(scripts.slice(1).map(lines), [['add element ip qubes qf-vm-10-137-0-5-g0-n0 { 198.51.100.10 }']])
  t.strictSame(inForceOf(WWW), ok(['198.51.100.10', '198.51.100.1', '2001:db8::1'], 100), 'the vanished addresses in their grace')
  await refresh(199, {})
  t.equal(scripts.length, 2, 'the second before the grace ends: nothing loaded')
  // dom0's answer had no ttl: 192.0.2.7 is graced for the floor, until 260
  await refresh(200, { 'dom0.example': ok(['192.0.2.8'], 600) })
  t.strictSame(lines(scripts[2] ?? ''), [
    'delete element ip qubes qf-vm-10-137-0-5-g0-n0 { 198.51.100.1 }', 'add element ip qubes qf-vm-10-137-0-5-g0-n1 { 192.0.2.8 }',
  ])
  t.strictSame([inForceOf(WWW), inForceOf('dom0.example')], [ok(['198.51.100.10'], 100), ok(['192.0.2.8', '192.0.2.7'], 600)])
  await refresh(260, {})
  t.strictSame(lines(scripts[3] ?? ''), ['delete element ip qubes qf-vm-10-137-0-5-g0-n1 { 192.0.2.7 }'])
})

t.test('refreshNames: a drop rule\'s name failed for good blocks from its position in a new chain', async (t) => {
  const { agent, scripts, refresh, inForceOf } = fakeAgent({ [WWW]: ok(['198.51.100.1'], 100), 'bad.example': ok(['203.0.113.1'], 10) })
  await agent.replace(push(A, 'accept', ['action=accept dsthost=www.example proto=tcp dstports=443', 'action=drop dsthost=bad.example']))
  await refresh(30, { 'bad.example': fail() })
  t.equal(scripts.length, 1, 'failing within its grace: nothing loaded')
  t.strictSame(inForceOf('bad.example'), ok(['203.0.113.1'], 10), 'and its addresses still in force')
  const { result } = await refresh(90, {})
  t.strictSame(lines(scripts[1] ?? ''), [
    'add chain ip qubes qf-vm-10-137-0-5-g1',
    'add set ip qubes qf-vm-10-137-0-5-g1-n0 { type ipv4_addr ; }',
    'add element ip qubes qf-vm-10-137-0-5-g1-n0 { 198.51.100.1 }',
    'add rule ip qubes qf-vm-10-137-0-5-g1 meta l4proto == tcp ip daddr == @qf-vm-10-137-0-5-g1-n0 tcp dport == 443 counter return comment "vm 10.137.0.5 rule 0"',
    'add rule ip qubes qf-vm-10-137-0-5-g1 counter goto qf-reject comment "vm 10.137.0.5 rule 1: name did not resolve, blocking from here"',
    'add element ip qubes qf-vms-update { 10.137.0.5 : goto qf-vm-10-137-0-5-g1 }',
  ])
  t.strictSame(result?.failed, [{ vm: A, rule: 1, name: 'bad.example', error: 'bad.example: SERVFAIL' }])
  t.strictSame(inForceOf('bad.example'), fail())
})

t.test('refreshNames: an accept rule\'s name failed for good is gone from a new chain, and comes back when it resolves', async (t) => {
  const { agent, scripts, refresh } = fakeAgent({ [WWW]: ok(['198.51.100.1']) })
  await agent.replace(push(A, 'drop', ['action=accept dsthost=www.example', 'action=accept dst4=192.0.2.1']))
  for (const s of [30, 60]) await refresh(s, { [WWW]: fail() })
  t.equal(scripts.length, 1, 'failing within its grace: nothing loaded')
  await refresh(90, { [WWW]: fail() })
  t.strictSame(lines(scripts[1] ?? ''), [
    'add chain ip qubes qf-vm-10-137-0-5-g1 {',
    '  ip daddr == 192.0.2.1 counter return comment "vm 10.137.0.5 rule 1"',
    '  counter goto qf-reject comment "vm 10.137.0.5 policy"',
    '}',
    'add element ip qubes qf-vms-update { 10.137.0.5 : goto qf-vm-10-137-0-5-g1 }',
  ], 'the rule after it stays')
  await agent.collectGarbage()
  await refresh(120, { [WWW]: ok(['198.51.100.2'], 300) })
  const again = lines(scripts.at(-1) ?? '')
  t.ok(again.includes('add element ip qubes qf-vm-10-137-0-5-g2-n0 { 198.51.100.2 }'), 'resolved again: a set in a new chain')
  t.ok(again.includes('add element ip qubes qf-vms-update { 10.137.0.5 : goto qf-vm-10-137-0-5-g2 }'), 'and the VM pointed at it')
})

t.test('notes speak of the VM\'s own family: an IPv6 VM hears nothing of a change of A records', async (t) => {
  const both = resolved(['192.0.2.1', '2001:db8::1'], 0, 30)
  const plan = planRefresh({
    loaded: new Map([loaded(A, 'accept', { [WWW]: both }), loaded(A6, 'accept', { [WWW]: both })]),
    answers: names({ [WWW]: ok(['192.0.2.2', '2001:db8::1'], 30) }), askedAt: at(30), now: at(30), policy: POLICY,
  })
  t.strictSame(plan.notes, [`${A}: www.example: now 192.0.2.2 192.0.2.1 (was 192.0.2.1)`])
  t.strictSame([...plan.moved], [A])
})

t.test("a failed query of the VM's own family is a failure, though the other family answered", async (t) => {
  const partial: Resolution = { addresses: ['2001:db8::10'], ttl: 300, failed: { 4: 'timed out' } }
  const plan = planRefresh({
    loaded: new Map([loaded(A, 'drop', { [WWW]: resolved(['192.0.2.66'], 0, 300) }), loaded(A6, 'drop', { [WWW]: resolved(['2001:db8::10'], 0, 300) })]),
    answers: names({ [WWW]: partial }), askedAt: at(300), now: at(300), policy: POLICY,
  })
  const four = plan.states.get(A)?.get(WWW)
  t.same(four && [inForce(four), four.kind === 'resolved' && four.failing?.error], [ok(['192.0.2.66'], 300), 'A query failed: timed out'], 'the IPv4 VM: failing, its address kept in its grace')
  t.strictSame(plan.elements, [], 'nothing leaves the set')
  const six = plan.states.get(A6)?.get(WWW)
  t.same(six && inForce(six), ok(['2001:db8::10'], 300), 'the IPv6 VM takes the answer')
})

t.test('a grace is at most --refresh-max-ttl, however long the TTL', async (t) => {
  const state = afterAnswer(resolved(['192.0.2.1', '192.0.2.2'], 0, 86_400), ok(['192.0.2.1'], 86_400), at(3600), POLICY)
  t.same(state.kind === 'resolved' && [...state.graced], [['192.0.2.2', at(7200)]], 'graced for maxTtl (3600 s), not a day')
  const failing = afterAnswer(resolved(['192.0.2.1'], 0, 86_400), fail(), at(3600), POLICY)
  t.equal(afterClock(failing, at(7200), POLICY).kind, 'failed', 'a failing name fails closed after maxTtl')
})
