// The agent's planner, pure: a push and what is loaded -> the commands of one transaction. One case
// per behaviour, read as each VM chain's rules (comment and verdict), without the skeleton.
import t from 'tap'
import type { EpochSeconds, Hostname } from '../common/rule/model.js'
import { FRESH_NAMESPACE, type KernelFacts } from '../netvm-agent/kernel-facts.js'
import type { Command, RuleObj } from '../netvm-agent/nft/model.js'
import { chainNamer, planFull, planGarbage, planIncremental, type LoadedVm, type PlanInput } from '../netvm-agent/plan.js'
import { parsePush } from '../netvm-agent/push/parse.js'
import type { Resolution } from '../netvm-agent/push/model.js'
import { fullCommands } from './helpers/full-plan.js'
import { serialise } from '../netvm-agent/nft/serialise.js'
import { PIPE_BUF } from '../netvm-agent/nft/transaction.js'

const NOW = 1_800_000_000 as EpochSeconds
const A = '10.137.0.5'
const B = '10.137.0.6'

/** A push of VM -> [policy, rules...] in Qubes' QubesDB form. */
function push(vms: Record<string, [policy: string, ...rules: string[]]>) {
  const entries: Record<string, string> = {}
  for (const [ip, [policy, ...rules]] of Object.entries(vms)) {
    entries[`/qubes-firewall/${ip}`] = ''
    entries[`/qubes-firewall/${ip}/policy`] = policy
    rules.forEach((rule, i) => (entries[`/qubes-firewall/${ip}/${String(i).padStart(4, '0')}`] = rule))
  }
  return parsePush(entries)
}

function input(names: Record<string, Resolution> = {}): PlanInput {
  const resolution = new Map(Object.entries(names)) as Map<Hostname, Resolution>
  const resolutions = new Map([[A, resolution], [B, resolution]])
  return {
    resolutions,
    ctx: { now: NOW, nameservers: { 4: ['10.139.1.1'], 6: [] }, resolution: (ip, name) => resolutions.get(ip)?.get(name) ?? { error: 'not resolved' } },
    nextChain: chainNamer(),
  }
}

const NOTHING = { connected: {}, forwards: [] }

/** A VM chain's rules as `comment -> verdict`, the verdict being the last statement's kind. */
function chainLines(commands: readonly Command[], chain: string): string[] {
  return commands
    .flatMap((c) => ('add' in c && 'rule' in c.add ? [c.add.rule as RuleObj] : []))
    .filter((rule) => rule.chain === chain)
    .map((rule) => {
      const last = rule.expr.at(-1) as Record<string, unknown>
      const verdict = 'goto' in last ? `goto ${(last['goto'] as { target: string }).target}` : Object.keys(last)[0]
      return `${rule.comment ?? ''} -> ${verdict}${JSON.stringify(rule.expr).includes('"time"') ? ' (until expiry)' : ''}`
    })
}

const cases: [behaviour: string, vms: Record<string, [string, ...string[]]>, names: Record<string, Resolution>, want: string[]][] = [
  ['rules in order, then the policy', { [A]: ['drop', 'action=accept dst4=192.0.2.10 proto=tcp dstports=80-80', 'action=drop dst4=198.51.100.0/24'] }, {}, [
    `vm ${A} rule 0 -> return`, `vm ${A} rule 1 -> goto qf-reject`, `vm ${A} policy -> goto qf-reject`,
  ]],
  ['a VM whose rules do not parse is blocked, nothing else', { [A]: ['accept', 'action=accept proto=tcp dstports=80-70'] }, {}, [
    `vm ${A} blocked: rules did not parse -> goto qf-reject`,
  ]],
  ['an accept whose name does not resolve matches nothing; the rest stays', { [A]: ['drop', 'action=accept dsthost=nosuch.example', 'action=accept dst4=192.0.2.10'] }, {}, [
    `vm ${A} rule 1 -> return`, `vm ${A} policy -> goto qf-reject`,
  ]],
  ['a drop whose name does not resolve blocks from its position on', { [A]: ['accept', 'action=accept dst4=192.0.2.10', 'action=drop dsthost=nosuch.example', 'action=accept dst4=198.51.100.10'] }, {}, [
    `vm ${A} rule 0 -> return`, `vm ${A} rule 1: name did not resolve, blocking from here -> goto qf-reject`,
  ]],
  ['a resolved name matches its addresses', { [A]: ['drop', 'action=accept dsthost=www.example'] }, { 'www.example': { addresses: ['192.0.2.10'] } }, [
    `vm ${A} rule 0 -> return`, `vm ${A} policy -> goto qf-reject`,
  ]],
  ['an expired rule is left out; a later one matches until its time', { [A]: ['drop', `action=accept dst4=192.0.2.1 expire=${NOW - 1}`, `action=accept dst4=192.0.2.2 expire=${NOW + 60}`] }, {}, [
    `vm ${A} rule 1 -> return (until expiry)`, `vm ${A} policy -> goto qf-reject`,
  ]],
  ['dns: the netvm\'s nameservers, tcp and udp port 53', { [A]: ['drop', 'action=accept specialtarget=dns'] }, {}, [
    `vm ${A} rule 0 -> return`, `vm ${A} rule 0 -> return`, `vm ${A} policy -> goto qf-reject`,
  ]],
]

t.test('planFull: one case per behaviour', async (t) => {
  t.plan(cases.length)
  for (const [behaviour, vms, names, want] of cases) {
    t.test(behaviour, async (t) => {
      const plan = planFull(push(vms).vms, NOTHING, FRESH_NAMESPACE, input(names))
      t.same(chainLines(fullCommands(plan), plan.vms.get(A)?.chain ?? '?'), want)
    })
  }
})

t.test('each VM has a chain of its own: isolation of rules', async (t) => {
  const plan = planFull(push({ [A]: ['accept'], [B]: ['drop'] }).vms, NOTHING, FRESH_NAMESPACE, input())
  const commands = fullCommands(plan)
  const [a, b] = [plan.vms.get(A)?.chain, plan.vms.get(B)?.chain]
  t.not(a, b)
  t.same(chainLines(commands, a ?? '?'), [`vm ${A} policy -> return`])
  t.same(chainLines(commands, b ?? '?'), [`vm ${B} policy -> goto qf-reject`])
  t.same(fullCommands(plan), commands, 'rendered again, the same commands')
})

t.test('planFull reads the kernel only through its facts', async (t) => {
  const fresh = planFull(push({ [A]: ['accept'] }).vms, NOTHING, FRESH_NAMESPACE, input())
  t.ok(fullCommands(fresh).some((c) => 'add' in c && 'table' in c.add), 'a fresh namespace gets the base table')
  const running: KernelFacts = {
    ip: { forward: 'present', dnat: 'present', vmChains: ['qf-vm-10-137-0-5-g0'], vmSets: ['qf-vm-10-137-0-5-g0-n0'] },
    ip6: { forward: 'present', dnat: 'present', vmChains: [], vmSets: [] },
  }
  const again = planFull(push({ [A]: ['accept'] }).vms, NOTHING, running, input())
  t.notOk(fullCommands(again).some((c) => 'add' in c && 'table' in c.add), 'an existing base table is left alone')
  t.ok(fullCommands(again).some((c) => 'delete' in c && 'chain' in c.delete && c.delete.chain.name === 'qf-vm-10-137-0-5-g0'), 'an old VM chain is deleted')
  t.ok(fullCommands(again).some((c) => 'delete' in c && 'set' in c.delete && c.delete.set.name === 'qf-vm-10-137-0-5-g0-n0'), 'and its name set')
  t.not(again.vms.get(A)?.chain, 'qf-vm-10-137-0-5-g0', 'and the new one never takes its name')
  t.notOk(fullCommands(again).some((c) => 'insert' in c), 'our jumps are there already')
})

t.test('planIncremental: an update adds a chain behind the overlay map and deletes nothing', async (t) => {
  const input1 = input()
  const first = planFull(push({ [A]: ['accept'] }).vms, NOTHING, FRESH_NAMESPACE, input1)
  fullCommands(first)
  const loaded: ReadonlyMap<string, LoadedVm> = first.vms
  const update = planIncremental(loaded, { vms: push({ [A]: ['drop'], [B]: ['accept'] }).vms, removed: [], connected: {}, connectedChanged: new Set() }, input1)
  t.notOk(update.commands.some((c) => 'delete' in c), 'nothing deleted while dom0 waits')
  const maps = update.commands.flatMap((c) => ('add' in c && 'element' in c.add ? [`${c.add.element.name} ${JSON.stringify(c.add.element.elem[0]).includes(A) ? 'A' : 'B'}`] : []))
  t.same(maps, ['qf-vms-update A', 'qf-vms B'], 'a known VM behind the overlay, a new one straight into qf-vms')
  t.same(update.vms.get(A)?.retired, { chain: loaded.get(A)?.chain, sets: [] }, 'the old chain waits for the clean-up')
  const garbage = planGarbage(new Map([...loaded, ...update.vms]))
  t.same(garbage.commands.map((c) => Object.keys(c)[0]), ['delete', 'add', 'delete', 'delete'], 'clean-up: move the entry, drop the overlay, delete the old chain')
  const removal = planIncremental(new Map([...loaded, ...update.vms]), { vms: new Map(), removed: [B], connected: {}, connectedChanged: new Set() }, input1)
  t.same(removal.commands.map((c) => Object.keys(c)[0]), ['delete', 'delete'], 'a removed VM: its map entry and its chain')
})

t.test('a full load ends with the dispatch chains, small enough for one write that is never split', async (t) => {
  // the most it holds: both families' tables missing (our jumps inserted), /connected-ips in both
  const plan = planFull(push({ [A]: ['accept'] }).vms, { connected: { 4: [A], 6: ['fd09:24ef:4179::a89:5'] }, forwards: [] }, FRESH_NAMESPACE, input())
  const last = serialise(plan.dispatch)
  t.ok(Buffer.byteLength(last) <= PIPE_BUF, `${Buffer.byteLength(last)} bytes, at most PIPE_BUF (${PIPE_BUF})`)
  t.match(last, /^flush chain ip qubes qf-forward$/m, 'it empties and refills qf-forward')
  t.match(last, /^insert rule ip6 qubes custom-forward jump qf-forward/m, 'and jumps to it last')
  t.notMatch(serialise([...plan.prologue, ...plan.switchover]), /flush chain ip6? qubes qf-(forward|reject|antispoof)\b/, 'no other part empties them')
})
