// The agent loads nft's native syntax: it must load exactly what the libnftables JSON of the same
// commands loaded. Every transaction the planner makes (first applies of the fixture pushes and of
// a rich push, an update with a removal, the clean-up, a re-apply over the running tables) and a
// tour of the model's shapes the planner does not use are loaded as JSON into one fresh namespace
// and as text into another; `nft -j list table ip|ip6 qubes` of both must be the same, handles aside.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { EpochSeconds, Hostname } from '../../common/rule/model.js'
import { FRESH_NAMESPACE, readKernelFacts, type KernelFacts } from '../../netvm-agent/kernel-facts.js'
import type { Command, RuleObj, Selector, Statement, Value } from '../../netvm-agent/nft/model.js'
import { listNftWith } from '../../netvm-agent/nft/run.js'
import { serialise } from '../../netvm-agent/nft/serialise.js'
import { chainNamer, planFull, planGarbage, planIncremental, type Connected, type LoadedVm, type PlanInput } from '../../netvm-agent/plan.js'
import { parsePush } from '../../netvm-agent/push/parse.js'
import type { Push, Resolution } from '../../netvm-agent/push/model.js'
import { CDN, ROOT, VM_A, VM_A6, VM_B, VM_B6, WWW, WWW6, makeLab, push, type Entries, type Lab } from './harness.js'
import { fullCommands } from '../helpers/full-plan.js'

const NOW = Math.floor(Date.now() / 1000) as EpochSeconds
const VM_C = '10.137.0.7'
const VM_D = '10.137.0.8'
const NAMESERVERS = { 4: ['10.139.1.1', '10.139.1.2'], 6: ['fd09:24ef:4179::a8b:1'] }

/**
 * The agent's former serialiser, libnftables JSON: the reference the text must match. nft 1.0.6's
 * JSON knows no `dynamic` set flag (its `update @set` statement sets it), so a set with it is added
 * without it, and only where it does not exist yet (re-adding it without the flag is refused).
 */
function asJson(commands: readonly Command[], existingSets: ReadonlySet<string>): string {
  const dynamic = (c: Command) => 'add' in c && 'set' in c.add && c.add.set.flags?.includes('dynamic') === true
  const kept = commands.filter((c) => !(dynamic(c) && 'add' in c && 'set' in c.add && existingSets.has(`${c.add.set.family} ${c.add.set.name}`)))
  const withoutDynamic = (key: string, value: unknown) => (key === 'flags' && Array.isArray(value) ? value.filter((f) => f !== 'dynamic') : value)
  return `{"nftables":[\n${kept.map((c) => JSON.stringify(c, withoutDynamic)).join(',\n')}\n]}\n`
}

/** Every kind of rule, both families, names resolved and not, a VM that fails, forwards, connected IPs. */
function richEntries(): Entries {
  const entries = push({
    [VM_A]: { policy: 'drop', rules: [
      'action=accept dst4=192.0.2.0/24 proto=tcp dstports=443-443', 'action=accept dsthost=www.lab.example proto=tcp dstports=80-90',
      'action=accept specialtarget=dns', 'action=drop proto=udp dstports=1000-2000', 'action=accept proto=icmp icmptype=8',
      'action=accept proto=icmp', 'action=accept dstports=5000-5000', `action=accept dst4=198.51.100.7/24 expire=${NOW + 3600}`,
      'action=accept dst4=203.0.113.1 expire=1000', 'action=accept dsthost=nosuch.lab.example proto=udp', `action=drop dst4=${CDN}`,
    ] },
    [VM_B]: { policy: 'accept', rules: ['action=accept proto=tcp dstports=22-22', 'action=drop dsthost=nosuch.lab.example', 'action=accept proto=udp'] },
    [VM_A6]: { policy: 'accept', rules: [
      'action=accept dsthost=www.lab.example proto=tcp dstports=443-443', 'action=drop dst6=2001:db8::/32', 'action=accept proto=icmp icmptype=128',
      'action=accept specialtarget=dns', 'action=drop dst6=2001:DB8:0:0:0:0:0:1',
    ] },
    [VM_C]: { policy: 'accept', rules: ['action=accept proto=tcp dstports=80-70'] },
  }, { 4: [VM_A, VM_B, VM_C], 6: [VM_A6, VM_B6] })
  entries[`/qubes-firewall-resolved/${VM_A}/www.lab.example`] = `${WWW} ${CDN} ${WWW6}`
  entries[`/qubes-firewall-resolved/${VM_A6}/www.lab.example`] = `${WWW} ${WWW6}`
  entries['/qubes-firewall-forward'] = ''
  entries['/qubes-firewall-forward/0000'] = `proto=tcp dport=8443 to=${VM_A} toport=443 from=192.0.2.0/24 iface=eth0`
  entries['/qubes-firewall-forward/0001'] = `proto=udp dport=5353 to=${VM_A6} toport=53 from=2001:db8::/48`
  return entries
}

const namer = chainNamer()

/** What the agent gathers before planning: dom0's resolutions, the nameservers, the clock. */
function planInput(p: Push): PlanInput {
  const resolutions = new Map([...p.vms].map(([ip, e]) => [ip, new Map<Hostname, Resolution>(e.ok ? e.vm.resolved : [])]))
  const resolution = (ip: string, name: Hostname): Resolution => resolutions.get(ip)?.get(name) ?? { error: 'not resolved' }
  return { resolutions, ctx: { now: NOW, nameservers: NAMESERVERS, resolution }, nextChain: namer }
}

const connectedOf = (p: Push): Connected => ({ 4: (p.connectedIps4 ?? []).map(String), 6: (p.connectedIps6 ?? []).map(String) })

/** Drops what differs between two loads of the same ruleset: handles, and nft's own version line. */
function sansHandles(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((item) => !(typeof item === 'object' && item !== null && 'metainfo' in item)).map(sansHandles)
  if (typeof value !== 'object' || value === null) return value
  return Object.fromEntries(Object.entries(value).filter(([key]) => key !== 'handle').map(([key, v]) => [key, sansHandles(v)]))
}

const lab = await makeLab(t, { echo: false })
if (lab) {
  const loader = namespaces(lab)

  await t.test('the fixture pushes, first applied', async (t) => {
    const fixtures = readdirSync(join(ROOT, 'test/fixtures/push')).filter((f) => f.endsWith('.json')).sort()
    for (const file of fixtures) {
      await loader.flush()
      const p = parsePush(JSON.parse(readFileSync(join(ROOT, 'test/fixtures/push', file), 'utf8')))
      const plan = planFull(p.vms, { connected: connectedOf(p), forwards: p.forwards ?? [] }, FRESH_NAMESPACE, planInput(p))
      await loader.compare(t, file, fullCommands(plan))
    }
  })

  await t.test('a rich push: first apply, update, clean-up, re-apply over the running tables', async (t) => {
    await loader.flush()
    const rich = parsePush(richEntries())
    const first = planFull(rich.vms, { connected: connectedOf(rich), forwards: rich.forwards ?? [] }, FRESH_NAMESPACE, planInput(rich))
    await loader.compare(t, 'first apply', fullCommands(first))

    const change = parsePush({
      ...push({
        [VM_A]: { policy: 'accept', rules: [`action=drop dst4=${WWW} proto=tcp dstports=22-22`] },
        [VM_D]: { policy: 'drop', rules: ['action=accept proto=icmp'] },
      }, { 4: [VM_A, VM_C, VM_D] }),
      '/qubes-firewall-forward': '',
      '/qubes-firewall-forward/0002': `proto=tcp dport=2222 to=${VM_D} toport=22`,
    })
    const update = planIncremental(first.vms, {
      vms: change.vms, removed: [VM_B], connected: { ...connectedOf(rich), 4: connectedOf(change)[4] ?? [] }, connectedChanged: new Set([4]),
      forwards: change.forwards ?? [],
    }, planInput(change))
    await loader.compare(t, 'update: a VM replaced, one added, one removed, connected IPs and forwards changed', update.commands)

    const loaded = new Map<string, LoadedVm>([...first.vms, ...update.vms])
    loaded.delete(VM_B)
    const garbage = planGarbage(loaded)
    t.ok(garbage.commands.length > 0, 'the update left something to clean up')
    await loader.compare(t, 'clean-up', garbage.commands)

    const facts = await loader.facts(t)
    t.ok(facts.ip.vmChains.length > 0 && facts.ip.forward === 'present', 'the kernel holds our tables')
    const again = planFull(rich.vms, { connected: connectedOf(rich), forwards: rich.forwards ?? [] }, facts, planInput(rich))
    await loader.compare(t, 're-apply over the running tables (old chains deleted)', fullCommands(again))
  })

  await t.test('the model shapes the planner does not use: positions, handles, interval sets, dnat family', async (t) => {
    const rule = (chain: string, expr: RuleObj['expr'], extra: Partial<RuleObj> = {}): RuleObj => ({ family: 'ip', table: 'qubes', chain, expr, ...extra })
    const match = (left: Selector, op: '==' | '!=', right: Value): Statement => ({ match: { op, left, right } })
    const set = { family: 'ip' as const, table: 'qubes', name: 'qf-tour-nets', type: 'ipv4_addr' as const, flags: ['interval' as const] }
    const chain = { family: 'ip' as const, table: 'qubes', name: 'qf-tour' }
    await loader.compare(t, 'a chain, an interval set, rules', [
      { add: { chain } },
      { add: { set } },
      { add: { element: { family: 'ip', table: 'qubes', name: set.name, elem: [{ prefix: { addr: '192.0.2.0', len: 24 } }, '198.51.100.7', '203.0.113.9'] } } },
      { add: { rule: rule(chain.name, [match({ payload: { protocol: 'ip', field: 'daddr' } }, '==', `@${set.name}`), { counter: null }, { accept: null }], { comment: 'first' }) } },
      { add: { rule: rule(chain.name, [match({ payload: { protocol: 'tcp', field: 'sport' } }, '!=', { range: [1, 1023] }), { drop: null }], { comment: 'second' }) } },
      { add: { rule: rule('qf-dnat', [match({ meta: { key: 'l4proto' } }, '==', 'tcp'), { dnat: { addr: VM_A, port: 80, family: 'ip' } }], { comment: 'third' }) } },
      { add: { table: { family: 'ip', name: 'qf-tour-table' } } },
    ])
    const handle = await loader.handleOf(t, 'qf-tour', 'first')
    const second = await loader.handleOf(t, 'qf-tour', 'second')
    await loader.compare(t, 'rules placed by handle and index, a rule and elements deleted, a set flushed and deleted', [
      { add: { rule: rule(chain.name, [{ counter: null }, { return: null }], { handle, comment: 'after first' }) } },
      { insert: { rule: rule(chain.name, [{ counter: null }, { jump: { target: 'qf-reject' } }], { index: 1, comment: 'at index 1' }) } },
      { add: { rule: rule(chain.name, [{ goto: { target: 'qf-reject' } }], { index: 0, comment: 'after index 0' }) } },
      { delete: { rule: rule(chain.name, [], { handle: second }) } },
      { delete: { element: { family: 'ip', table: 'qubes', name: set.name, elem: ['198.51.100.7'] } } },
      { delete: { table: { family: 'ip', name: 'qf-tour-table' } } },
    ])
    await loader.compare(t, 'a set flushed, then deleted with the chain using it', [
      { flush: { set } },
      { flush: { chain } },
      { delete: { chain } },
      { delete: { set } },
    ])
  })
}

/** Two fresh namespaces of the lab: `a` is loaded with JSON, `b` with the text of the same commands. */
function namespaces(lab: Lab) {
  const json = lab.ns.a
  const text = lab.ns.b
  let count = 0
  const nft = async (ns: string, ...args: string[]) => {
    const r = await lab.exec(ns, 'nft', args)
    if (r.exitCode !== 0) throw new Error(`${ns}: nft ${args.join(' ')}: ${r.stderr.trim()}`)
    return r.stdout
  }
  const tables = async (ns: string) => ({
    ip: sansHandles(JSON.parse(await nft(ns, '-j', 'list', 'table', 'ip', 'qubes'))),
    ip6: sansHandles(JSON.parse(await nft(ns, '-j', 'list', 'table', 'ip6', 'qubes'))),
  })
  const listNft = (ns: string) => listNftWith(['ip', 'netns', 'exec', ns, 'nft'])
  return {
    flush: async () => {
      await nft(json, 'flush', 'ruleset')
      await nft(text, 'flush', 'ruleset')
    },
    /** Loads the commands into both namespaces; both listings must be the same. */
    compare: async (t: Test, what: string, commands: readonly Command[]) => {
      const file = join(lab.dir, `transaction-${count++}`)
      const sets = JSON.parse(await nft(json, '-j', 'list', 'sets')) as { nftables: { set?: { family: string; name: string } }[] }
      writeFileSync(`${file}.json`, asJson(commands, new Set(sets.nftables.flatMap((i) => (i.set ? [`${i.set.family} ${i.set.name}`] : [])))))
      writeFileSync(`${file}.nft`, serialise(commands))
      await nft(json, '-j', '-f', `${file}.json`)
      await nft(text, '-f', `${file}.nft`)
      const [fromJson, fromText] = [await tables(json), await tables(text)]
      t.same(fromText, fromJson, `${what}: the text loads what the JSON loads (${commands.length} commands)`)
    },
    /** The kernel's facts, as the agent reads them: the same in both namespaces. */
    facts: async (t: Test): Promise<KernelFacts> => {
      const facts = await readKernelFacts(listNft(text))
      t.same(facts, await readKernelFacts(listNft(json)), 'both namespaces show the agent the same facts')
      return facts
    },
    /** The handle of the rule with this comment: the same in both namespaces, or the test stops. */
    handleOf: async (t: Test, chain: string, comment: string): Promise<number> => {
      const find = async (ns: string) => {
        const items = (JSON.parse(await nft(ns, '-a', '-j', 'list', 'chain', 'ip', 'qubes', chain)) as { nftables: { rule?: RuleObj }[] }).nftables
        return items.find((item) => item.rule?.comment === comment)?.rule?.handle
      }
      const [inJson, inText] = [await find(json), await find(text)]
      t.equal(inText, inJson, `rule "${comment}" has the same handle in both namespaces`)
      if (inJson === undefined || inJson !== inText) throw new Error(`no common handle for rule "${comment}"`)
      return inJson
    },
  }
}
