// What the agent loads for fixture pushes, in nft's native syntax, snapshotted: review a snapshot's
// diff like code. The skeleton (what an empty push loads) is snapshotted once; each fixture's
// snapshot holds only its own lines, each run placed after the skeleton line it follows, and the
// test checks that the skeleton and those lines make up the whole transaction. And how serialise
// spells each shape of the model (a chain and its rules as one block), or refuses a value.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import type { EpochSeconds } from '../common/rule/model.js'
import { Agent, type AgentEffects } from '../netvm-agent/agent.js'
import type { Command, RuleObj, Selector, Statement, Value } from '../netvm-agent/nft/model.js'
import { serialise } from '../netvm-agent/nft/serialise.js'
import { parsePush } from '../netvm-agent/push/parse.js'
import { transactionText } from '../netvm-agent/nft/transaction.js'

const FIXTURES = 'test/fixtures/push'
const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort()

/** A first apply on a machine without the base table, names resolved by dom0 only, a fixed clock. */
async function render(untrustedPush: unknown): Promise<{ transaction: string; result: unknown }> {
  let transaction = ''
  const fx: AgentEffects = {
    runNft: async (loaded) => void (transaction = transactionText(loaded)),
    listNft: async (lists) => lists.map(() => undefined),
    resolve: async (names) => new Map(names.map((n) => [n, { error: 'no DNS in this test' }])),
    nameservers: () => ({ 4: ['10.139.1.1', '10.139.1.2'], 6: [] }),
    now: () => 1_800_000_000 as EpochSeconds,
  }
  const result = await new Agent(fx).replace(parsePush(untrustedPush))
  // chain generations depend on the clock: name them by order of appearance instead
  const generations = new Map<string, string>()
  const stable = transaction.replace(/(?<=qf-vm-[0-9a-f-]+)-g[0-9a-z]+\b/g, (g) => {
    if (!generations.has(g)) generations.set(g, `-g${generations.size}`)
    return generations.get(g) as string
  })
  return { transaction: stable, result }
}

/** A run of a case's own lines, after the first `after` lines of the skeleton. */
interface Hunk { after: number; lines: string[] }

/** A transaction's lines beyond the skeleton, in runs; 'skeleton missing' when it lacks some of the skeleton, or reorders it. */
function ownLines(skeleton: readonly string[], lines: readonly string[]): Hunk[] | 'skeleton missing' {
  const hunks: Hunk[] = []
  let matched = 0
  for (const line of lines) {
    if (matched < skeleton.length && line === skeleton[matched]) {
      matched++
      continue
    }
    const last = hunks.at(-1)
    if (last?.after === matched) last.lines.push(line)
    else hunks.push({ after: matched, lines: [line] })
  }
  return matched === skeleton.length ? hunks : 'skeleton missing'
}

/** The skeleton with a case's runs put back: the whole transaction. */
function withHunks(skeleton: readonly string[], hunks: readonly Hunk[]): string[] {
  const lines: string[] = []
  let taken = 0
  for (const hunk of hunks) {
    lines.push(...skeleton.slice(taken, hunk.after), ...hunk.lines)
    taken = hunk.after
  }
  return [...lines, ...skeleton.slice(taken)]
}

/** The runs as a diff reads: where each goes in the skeleton, then its lines. */
function formatHunks(skeleton: readonly string[], hunks: readonly Hunk[]): string {
  return hunks.map(({ after, lines }) => {
    const where = after === 0 ? '@@ before the skeleton' : `@@ after skeleton line ${after}: ${skeleton[after - 1]}`
    return [where, ...lines.map((line) => `+ ${line}`)].join('\n')
  }).join('\n') + '\n'
}

const EMPTY_PUSH = {}
const skeleton = (await render(EMPTY_PUSH)).transaction.split('\n')

t.plan(files.length + 3)
t.test('the skeleton: what an empty push loads', async (t) => {
  const { transaction, result } = await render(EMPTY_PUSH)
  t.matchSnapshot(result, 'what the agent answers')
  t.matchSnapshot(transaction, 'the one transaction it loads')
})
for (const file of files) {
  t.test(file, async (t) => {
    const { transaction, result } = await render(JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')))
    const lines = transaction.split('\n')
    const hunks = ownLines(skeleton, lines)
    if (hunks === 'skeleton missing') return t.fail('the transaction lacks lines of the skeleton, or reorders them')
    t.matchSnapshot(result, 'what the agent answers')
    t.matchSnapshot(formatHunks(skeleton, hunks), 'what it loads beyond the skeleton')
    t.same(withHunks(skeleton, hunks), lines, 'the skeleton and those lines are the whole transaction')
  })
}

// a chain added with the rules appended to it right after: one block; anything else ends the block
t.test('serialise: a chain and the rules appended to it next are one block', async (t) => {
  const obj = { family: 'ip' as const, table: 'qubes' }
  const chain = (name: string, extra: object = {}): Command => ({ add: { chain: { ...obj, name, ...extra } } })
  const append = (chain: string, expr: Statement[], extra: Partial<RuleObj> = {}): Command => ({ add: { rule: { ...obj, chain, expr, ...extra } } })
  t.equal(
    serialise([chain('c'), append('c', [{ counter: null }, { return: null }], { comment: 'vm 10.137.0.5 rule 0' }), append('c', [{ drop: null }]), chain('d'), append('e', [{ accept: null }])]),
    ['add chain ip qubes c {', '  counter return comment "vm 10.137.0.5 rule 0"', '  drop', '}', 'add chain ip qubes d', 'add rule ip qubes e accept', ''].join('\n'),
    'a rule of another chain is a command of its own; a chain without rules stays one line',
  )
  const base = chain('input', { type: 'filter', hook: 'input', prio: 0 })
  t.equal(serialise([base, append('input', [{ accept: null }])]), 'add chain ip qubes input { type filter hook input priority 0 ; }\nadd rule ip qubes input accept\n', 'a base chain: not a block')
  t.equal(
    serialise([chain('c'), append('c', [{ accept: null }], { index: 0 }), append('c', [{ drop: null }])]),
    'add chain ip qubes c\nadd rule ip qubes c index 0 accept\nadd rule ip qubes c drop\n',
    'a rule with a position: not in the block, nor what follows it',
  )
  t.equal(serialise([chain('c'), append('c', [{ accept: null }], { family: 'ip6' })]), 'add chain ip qubes c\nadd rule ip6 qubes c accept\n', 'a rule of another family: not in the block')
  t.throws(() => serialise([chain('c'), append('c', [{ accept: null }], { comment: 'x" }\nflush ruleset' })]), /invalid comment/, 'a rule in a block is checked as any other')
})

// each model shape's native spelling, and the values serialise refuses rather than write
t.test('serialise: native spellings and refusals', async (t) => {
  const obj = { family: 'ip' as const, table: 'qubes' }
  const rule = (expr: Statement[], extra: Partial<RuleObj> = {}): Command => ({ add: { rule: { ...obj, chain: 'c', expr, ...extra } } })
  const match = (left: Selector, right: Value, op: '==' | '!=' | '<' | 'in' = '=='): Statement => ({ match: { op, left, right } })
  const daddr: Selector = { payload: { protocol: 'ip', field: 'daddr' } }
  const dport: Selector = { payload: { protocol: 'tcp', field: 'dport' } }
  const set = { family: 'ip6' as const, table: 'qubes', name: 's', type: 'ipv6_addr' as const }
  const cases: [what: string, command: Command, want: string | RegExp][] = [
    ['base chain', { add: { chain: { ...obj, name: 'qf-antispoof', type: 'filter', hook: 'prerouting', prio: -300, policy: 'accept' } } },
      'add chain ip qubes qf-antispoof { type filter hook prerouting priority -300 ; policy accept ; }'],
    ['flush of a base chain', { flush: { chain: { ...obj, name: 'input', type: 'filter', hook: 'input', prio: 0 } } }, 'flush chain ip qubes input'],
    ['verdict map', { add: { map: { ...obj, name: 'm', type: 'ipv4_addr', map: 'verdict' } } }, 'add map ip qubes m { type ipv4_addr : verdict ; }'],
    ['interval set', { add: { set: { ...set, flags: ['interval'] } } }, 'add set ip6 qubes s { type ipv6_addr ; flags interval ; }'],
    ['elements, re-formatted', { add: { element: { ...set, elem: ['2001:DB8:0::1', { prefix: { addr: 'fe80::', len: 10 } }] } } },
      'add element ip6 qubes s { 2001:db8::1, fe80::/10 }'],
    ['map element', { add: { element: { ...obj, name: 'm', elem: [['10.137.0.5', { goto: { target: 'qf-vm-10-137-0-5-g0' } }]] } } },
      'add element ip qubes m { 10.137.0.5 : goto qf-vm-10-137-0-5-g0 }'],
    ['matches', rule([
      match({ meta: { key: 'iifname' } }, 'vif*'), match(daddr, { set: ['192.0.2.1', { prefix: { addr: '10.0.0.0', len: 8 } }] }),
      match(dport, { range: [80, 90] }, '!='), { counter: null }, { return: null },
    ], { comment: 'vm 10.137.0.5 rule 0' }),
    'add rule ip qubes c meta iifname == "vif*" ip daddr == { 192.0.2.1, 10.0.0.0/8 } tcp dport != 80-90 counter return comment "vm 10.137.0.5 rule 0"'],
    ['ct, fib, time', rule([
      match({ ct: { key: 'state' } }, ['established', 'related'], 'in'), match({ fib: { result: 'oif', flags: ['saddr', 'iif'] } }, false),
      match({ meta: { key: 'time' } }, 1900000000, '<'), { drop: null },
    ]), 'add rule ip qubes c ct state established,related fib saddr . iif oif == missing meta time < 1900000000 drop'],
    ['vmap, rejects', rule([{ vmap: { key: daddr, data: '@m' } }, { reject: { type: 'icmp', expr: 'admin-prohibited' } }, { reject: { type: 'tcp reset' } }]),
      'add rule ip qubes c ip daddr vmap @m reject with icmp admin-prohibited reject with tcp reset'],
    ['dnat', rule([{ dnat: { addr: 'fd09::2', port: 53 } }, { dnat: { addr: 'fd09::2' } }], { family: 'ip6' }), 'add rule ip6 qubes c dnat to [fd09::2]:53 dnat to fd09::2'],
    ['insert at an index', { insert: { rule: { ...obj, chain: 'c', expr: [{ jump: { target: 'd' } }], index: 0 } } }, 'insert rule ip qubes c index 0 jump d'],
    ['rule deleted by handle', { delete: { rule: { ...obj, chain: 'c', expr: [], handle: 7 } } }, 'delete rule ip qubes c handle 7'],
    ['a quote in a comment', rule([{ accept: null }], { comment: 'x" ; flush ruleset ; "' }), /invalid comment/],
    ['a backslash in a comment', rule([{ accept: null }], { comment: 'x\\' }), /invalid comment/],
    ['a newline in a comment', rule([{ accept: null }], { comment: 'x\nflush ruleset' }), /invalid comment/],
    ['a name with a space', rule([{ jump: { target: 'a b' } }]), /invalid name "a b"/],
    ['an address of the other family', rule([match(daddr, '2001:db8::1')]), /invalid IPv4 address "2001:db8::1"/],
    ['an IPv4 address with a leading zero', rule([match(daddr, '10.137.0.05')]), /invalid IPv4 address/],
    ['an IPv6 zone', { add: { element: { ...set, elem: ['fe80::1%eth0'] } } }, /invalid IPv6 address/],
    ['a fraction', rule([match(dport, 1.5)]), /invalid tcp dport 1.5/],
    ['a port out of range', rule([match(dport, { range: [1, 65536] })]), /invalid tcp dport 65536/],
    ['a payload field of no list', rule([match({ payload: { protocol: 'tcp', field: 'flags' } }, 2)]), /invalid tcp field "flags"/],
    ['an interface name with a quote', rule([match({ meta: { key: 'oifname' } }, 'vif"')]), /invalid interface name/],
    ['an empty set', rule([match(daddr, { set: [] })]), /invalid empty set/],
    ['a half base chain', { add: { chain: { ...obj, name: 'c', hook: 'input' } } }, /invalid base chain/],
  ]
  t.plan(cases.length)
  for (const [what, command, want] of cases) {
    if (typeof want === 'string') t.equal(serialise([command]), `${want}\n`, what)
    else t.throws(() => serialise([command]), want, what)
  }
})
