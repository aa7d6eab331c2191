// Fuzzing the agent's trust boundary: a valid two-VM push whose 10.137.0.5 entries are mutated goes
// through parsePush, Agent.update and the socket's line handler. The other VM (10.137.0.6) must come
// out untouched, nothing may throw but a PushError, and every word of the nft script it loads is
// an nft keyword, a typed value or an allowed comment: no untrusted text reaches nft.
// Deterministic: the seed is printed; FUZZ_SEED=<n> repeats a run, FUZZ_CASE=<i> runs one case.
import { isDeepStrictEqual } from 'node:util'
import { join } from 'node:path'
import ipaddr from 'ipaddr.js'
import t from 'tap'
import type { EpochSeconds } from '../common/rule/model.js'
import { Agent, type AgentEffects, type ApplyResult, type LoadedVm } from '../netvm-agent/agent.js'
import { PushError } from '../netvm-agent/errors.js'
import { parsePush } from '../netvm-agent/push/parse.js'
import type { Push, VmEntry } from '../netvm-agent/push/model.js'
import { handleRequest, PersistedState, restoredPush } from '../netvm-agent/serve.js'
import { transactionText } from '../netvm-agent/nft/transaction.js'

const SEED = process.env['FUZZ_SEED'] !== undefined ? Number(process.env['FUZZ_SEED']) >>> 0 : 0x5eed_f022
const ONLY_CASE = process.env['FUZZ_CASE'] !== undefined ? Number(process.env['FUZZ_CASE']) : undefined
const CASES = 10_000
const LINES = 300
const NOW = 1_700_000_000 as EpochSeconds

const A = '10.137.0.5'
const B = '10.137.0.6'
const FW = '/qubes-firewall/'
const RES = '/qubes-firewall-resolved/'

type Pair = [key: string, value: unknown]

// ---------------------------------------------------------------- the push every case starts from

const A_PAIRS: Pair[] = [
  [`${FW}${A}`, ''],
  [`${FW}${A}/policy`, 'drop'],
  [`${FW}${A}/0000`, 'action=accept dst4=192.0.2.0/24 proto=tcp dstports=443-443'],
  [`${FW}${A}/0001`, 'action=accept dsthost=www.lab.example proto=tcp dstports=80-80'],
  [`${FW}${A}/0002`, 'action=accept specialtarget=dns'],
  [`${FW}${A}/0003`, 'action=drop dsthost=cdn.lab.example'],
  [`${FW}${A}/0004`, 'action=accept proto=icmp icmptype=8'],
  [`${FW}${A}/0005`, 'action=accept dst4=198.51.100.10 proto=udp dstports=1200-1400'],
  [`${FW}${A}/0006`, 'action=accept dsthost=unresolved.example proto=tcp'],
  [`${FW}${A}/0007`, 'action=accept dst4=203.0.113.7/24 expire=1900000000'],
  [`${FW}${A}/0008`, 'action=accept dsthost=gone.example expire=1000'],
  [`${FW}${A}/0009`, 'action=drop proto=udp dstports=53'],
  [`${FW}${A}/0010`, 'action=accept dstports=8080'],
  [`${RES}${A}/www.lab.example`, '192.0.2.10'],
  [`${RES}${A}/cdn.lab.example`, '198.51.100.10 2001:db8::10'],
]
const B_PAIRS: Pair[] = [
  [`${FW}${B}`, ''],
  [`${FW}${B}/policy`, 'accept'],
  [`${FW}${B}/0000`, 'action=drop dst4=192.0.2.10 proto=tcp dstports=22-22'],
  [`${FW}${B}/0001`, 'action=accept dsthost=www.lab.example proto=tcp dstports=443'],
  [`${FW}${B}/0002`, 'action=drop proto=icmp'],
  [`${RES}${B}/www.lab.example`, '192.0.2.10'],
]
const CONNECTED: Pair = ['/connected-ips', `${A} ${B}`]

/** An object of the pairs, later pairs winning; own properties, so `__proto__` stays a key. */
function entriesOf(pairs: readonly Pair[]): Record<string, unknown> {
  const object: Record<string, unknown> = {}
  for (const [key, value] of pairs) Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true })
  return object
}

// ---------------------------------------------------------------- deterministic randomness

type Rng = () => number

function sfc32(a: number, b: number, c: number, d: number): Rng {
  return () => {
    a |= 0, b |= 0, c |= 0, d |= 0
    const r = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + r) | 0
    return (r >>> 0) / 4294967296
  }
}

/** One generator per case, so a case repeats alone with FUZZ_CASE. */
function rngFor(seed: number, index: number): Rng {
  const rng = sfc32(0x9e3779b9, seed, index, (seed ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0)
  for (let i = 0; i < 20; i++) rng()
  return rng
}

const int = (r: Rng, n: number) => Math.floor(r() * n)
const pick = <T>(r: Rng, items: readonly T[]): T => items[int(r, items.length)] as T
const chance = (r: Rng, p: number) => r() < p

const SPICY = [
  '=', ' ', '  ', '==', ' =', '= ', '\0', '\t', '\n', '\r', '/', '-', '.', ':', '+', '0', '9', 'x', 'é', 'İ', 'ﬀ',
  '\u00a0', '\u2028', '\u202e', '\ufeff', '\ud800', '\udc00', '😀', '１', '٣', '"', '\\', '%', '*', '@', '{', '}',
  '[', ']', ';', ',', '#', '$', "'", '`', '\x7f', '\x1b',
]

function randChar(r: Rng): string {
  const roll = r()
  if (roll < 0.5) return String.fromCharCode(0x20 + int(r, 0x5f))
  if (roll < 0.8) return pick(r, SPICY)
  return String.fromCodePoint(int(r, 0x110000))
}

// ---------------------------------------------------------------- what mutations draw from

const NAMES = [
  'www.lab.example', 'cdn.lab.example', 'unresolved.example', 'a', '-a', 'a..b', '.', 'a.', '_', 'xn--bcher-kva.example',
  'UPPER.example', 'a_b.example', `${'a'.repeat(64)}.example`, `${'a'.repeat(63)}.`.repeat(4), '0x7f.0.0.1', '2130706433',
  '1.2.3.4a', 'example.123', 'ex ample', 'ex=ample', 'exa\0mple', 'exämple.com', 'example.com/24',
]
const V4 = [
  '192.0.2.1', '192.0.2.0/24', '0.0.0.0/0', '10.137.0.6', '10.137.0.6/32', '1.2.3.4/33', '1.2.3.4/-1', '01.2.3.4', '1.2.3',
  '1.2.3.4.5', '256.1.1.1', '1.2.3.4/024', '1.2.3.4/', '/24', '0x7f.0.0.1', '2130706433', '1.2.3.4/8/8', '1.2.3.4/0',
  '255.255.255.255/32', '1.2.3.4/1e1', '1.2.3.4/+8', '1.2.3.４',
]
const V6 = [
  '2001:db8::1', '2001:db8::/32', '::/0', '::ffff:10.137.0.6', '::1.2.3.4', 'fe80::1%eth0', '[::1]', '2001:db8::/129',
  '2001:DB8::1', '2001:db8:0:0:0:0:0:1', '::', '1::2::3', '2001:db8::1/064', 'fd09:24ef:4179::a89:6/128', ':::',
]
const PORTS = [
  '0', '1', '443', '65535', '65536', '0443', '-1', '1-2', '2-1', '1-65535', '0-0', '99999', '443-', '-443', '1--2', '0x50',
  '1e3', '٤٤٣', '+443', '00000', '000000', '443-443-443', '18446744073709551616', '4.5',
]
const ICMP = ['0', '8', '255', '256', '008', '-1', '1e2', '0x8', '999', '']
const EXPIRE = ['0', '1000', '1900000000', '999999999999', '9999999999999', '-1', '+10', '0001900000000', '1e10', '1.5', '+0']
const OPTION_VALUES: Record<string, readonly string[]> = {
  action: ['accept', 'drop', 'ACCEPT', 'allow', 'reject', 'accept ', 'dróp', 'accept=drop'],
  proto: ['tcp', 'udp', 'icmp', 'sctp', 'TCP', '6', 'icmpv6', 'tcp '],
  dst4: [...V4, ...V6.slice(0, 4)],
  dst6: [...V6, ...V4.slice(0, 4)],
  dsthost: [...NAMES, ...V4, ...V6],
  dstports: PORTS,
  icmptype: ICMP,
  specialtarget: ['dns', 'DNS', 'ntp', 'dns6'],
  expire: EXPIRE,
  comment: ['x', 'hello'],
  Action: ['accept'],
  dst: ['1.2.3.4'],
  'action ': ['accept'],
  '': ['accept'],
}
const OPTIONS = Object.keys(OPTION_VALUES)
const SEPARATORS = [' ', ' ', ' ', ' ', '  ', '\t', ' = ', '\n', '\u00a0', '']

/** A rule value from the QubesDB grammar, often valid, often just off. */
function genRule(r: Rng): string {
  const words: string[] = []
  if (chance(r, 0.85)) words.push(`action=${chance(r, 0.8) ? pick(r, ['accept', 'drop']) : pick(r, OPTION_VALUES['action'] ?? [])}`)
  const extra = int(r, 5)
  for (let i = 0; i < extra; i++) {
    const option = chance(r, 0.85) ? pick(r, ['proto', 'dst4', 'dst6', 'dsthost', 'dstports', 'icmptype', 'specialtarget', 'expire']) : pick(r, OPTIONS)
    const value = pick(r, OPTION_VALUES[option] ?? [''])
    const roll = r()
    words.push(roll < 0.9 ? `${option}=${value}` : roll < 0.95 ? `${option}=` : `${option}`)
  }
  if (words.length > 1 && chance(r, 0.3)) words.sort(() => r() - 0.5)
  let text = ''
  words.forEach((w, i) => (text += (i === 0 ? '' : chance(r, 0.9) ? ' ' : pick(r, SEPARATORS)) + w))
  return text
}

const ODD_SUFFIXES = [
  '00001', '-001', '0x10', '1', '+001', ' 0001', '0001 ', '１２３４', '٠٠٠١', '9999', '10000', '0001/x', '', 'POLICY', 'Policy',
  'policy ', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'policy/x', '0010', '0\u00000', '1e3', '0.01', 'NNNN',
  '0000\n', '/', '//', '..', 'policy\0',
]
const ODD_IPS = [
  '010.137.0.6', '10.137.0.06', '::ffff:10.137.0.6', '::ffff:a89:6', '0:0:0:0:0:ffff:a89:6', '10.137.0.6.', '10.137.0.6 ',
  ' 10.137.0.6', '10.137.000.6', '0xa.137.0.6', '168427526', '10.137.6', '10.137.0.6/32', '10.137.0.6%eth0', '10.137.0.6\0',
  '１0.137.0.6', '10.137.0.6\n', '10。137。0。6', '010.137.0.5', '10.137.0.05', '10.137.0.7', 'fd09:24ef:4179::a89:5',
  'fd09:24ef:4179::a89:6', '2001:DB8::1', '::', '0.0.0.0', '255.255.255.255', '', '10.137.0.6:', '10.137.0.6/', '::10.137.0.6',
  '__proto__', 'constructor',
]
const HUGE = [8191, 8192, 8193, 65_536, 1 << 20]
const NON_STRINGS: unknown[] = [0, 1, -1, 1.5, null, true, false, [], ['action=accept'], {}, { value: 'action=accept' }, [[['x']]]]
const POLICIES = ['accept', 'drop', 'ACCEPT', '', ' accept', 'accept ', 'reject', 'accept\0', 'dróp', 'allow', 'accept drop']
const RESOLVED_VALUES = [
  '', ' ', '1.2.3.4', '1.2.3.4 ::1', '01.2.3.4', 'x', '10.137.0.6', '1.2.3.4  5.6.7.8', '1.2.3.4\t5.6.7.8', '::ffff:1.2.3.4',
  '1.2.3.4/24', 'fe80::1%eth0', '2001:db8::1 2001:DB8::2', '192.0.2.10 '.repeat(500), '1.2.3.4\n',
]

// ---------------------------------------------------------------- mutations of VM A's entries

interface Mutant {
  pairs: Pair[]
  notes: string[]
}

const show = (v: unknown) => {
  const text = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v)
  return text.length > 70 ? `${text.slice(0, 60)}…(${text.length})` : text
}
const ruleIndexes = (m: Mutant) => m.pairs.flatMap(([key], i) => (key.startsWith(FW) && /\/[^/]*\/.+/.test(key.slice(FW.length - 1)) ? [i] : []))
const anyIndex = (r: Rng, m: Mutant) => int(r, m.pairs.length)
const valueAt = (m: Mutant, i: number) => (typeof m.pairs[i]?.[1] === 'string' ? (m.pairs[i]?.[1] as string) : '')
const keyAt = (m: Mutant, i: number) => m.pairs[i]?.[0] ?? ''
const setValue = (m: Mutant, i: number, value: unknown) => ((m.pairs[i] as Pair)[1] = value)
const setKey = (m: Mutant, i: number, key: string) => ((m.pairs[i] as Pair)[0] = key)

/** Splits a VM key into prefix, IP and suffix (with its leading '/'). */
function splitKey(key: string): { prefix: string; ip: string; rest: string } | undefined {
  for (const prefix of [RES, FW]) {
    if (!key.startsWith(prefix)) continue
    const tail = key.slice(prefix.length)
    const slash = tail.indexOf('/')
    return slash < 0 ? { prefix, ip: tail, rest: '' } : { prefix, ip: tail.slice(0, slash), rest: tail.slice(slash) }
  }
  return undefined
}

type Mutation = (r: Rng, m: Mutant) => string

const MUTATIONS: [weight: number, name: string, mutate: Mutation][] = [
  [14, 'flip value', (r, m) => {
    const i = anyIndex(r, m)
    const v = valueAt(m, i)
    const at = int(r, v.length + 1)
    const c = randChar(r)
    setValue(m, i, v.slice(0, at) + c + v.slice(at + 1))
    return `${keyAt(m, i)}: value[${at}] = ${show(c)}`
  }],
  [10, 'insert in value', (r, m) => {
    const i = anyIndex(r, m)
    const v = valueAt(m, i)
    const at = int(r, v.length + 1)
    const c = chance(r, 0.5) ? randChar(r) : pick(r, [' ', '=', ' action=drop', ' proto=tcp', ' dstports=1', ` ${pick(r, OPTIONS)}=`, '\0'])
    setValue(m, i, v.slice(0, at) + c + v.slice(at))
    return `${keyAt(m, i)}: insert ${show(c)} at ${at}`
  }],
  [8, 'delete in value', (r, m) => {
    const i = anyIndex(r, m)
    const v = valueAt(m, i)
    const at = int(r, v.length + 1)
    const n = 1 + int(r, chance(r, 0.7) ? 2 : 12)
    setValue(m, i, v.slice(0, at) + v.slice(at + n))
    return `${keyAt(m, i)}: delete ${n} at ${at}`
  }],
  [16, 'new rule', (r, m) => {
    const rules = ruleIndexes(m)
    const i = rules.length > 0 && chance(r, 0.8) ? pick(r, rules) : anyIndex(r, m)
    const v = genRule(r)
    setValue(m, i, v)
    return `${keyAt(m, i)} = ${show(v)}`
  }],
  [6, 'duplicate option', (r, m) => {
    const i = anyIndex(r, m)
    const v = valueAt(m, i)
    const words = v.split(' ')
    const word = chance(r, 0.6) ? pick(r, words) : `${pick(r, OPTIONS)}=${pick(r, ['accept', 'tcp', '1', 'dns'])}`
    const next = chance(r, 0.5) ? `${v} ${word}` : `${word} ${v}`
    setValue(m, i, next)
    return `${keyAt(m, i)} = ${show(next)}`
  }],
  [8, 'odd key suffix', (r, m) => {
    const i = anyIndex(r, m)
    const parts = splitKey(keyAt(m, i))
    if (!parts) return 'odd suffix: no VM key'
    const suffix = chance(r, 0.7) ? `/${pick(r, ODD_SUFFIXES)}` : chance(r, 0.5) ? '' : `/${String(int(r, 20_000)).padStart(int(r, 7), '0')}`
    setKey(m, i, parts.prefix + parts.ip + suffix)
    return `key ${keyAt(m, i)}`
  }],
  [6, 'flip in key', (r, m) => {
    const i = anyIndex(r, m)
    const key = keyAt(m, i)
    // mostly the part after the IP, sometimes anywhere
    const from = chance(r, 0.7) ? Math.min(key.length, FW.length + A.length) : 0
    const at = from + int(r, key.length - from + 1)
    const roll = r()
    const c = randChar(r)
    const next = roll < 0.4 ? key.slice(0, at) + c + key.slice(at + 1) : roll < 0.8 ? key.slice(0, at) + c + key.slice(at) : key.slice(0, at) + key.slice(at + 1)
    setKey(m, i, next)
    return `key ${show(key)} -> ${show(next)}`
  }],
  [6, 'other IP in key', (r, m) => {
    const i = anyIndex(r, m)
    const parts = splitKey(keyAt(m, i))
    if (!parts) return 'other ip: no VM key'
    const ip = pick(r, ODD_IPS)
    setKey(m, i, parts.prefix + ip + parts.rest)
    return `key ${show(keyAt(m, i))}`
  }],
  [2, 'rename VM', (r, m) => {
    const ip = pick(r, ODD_IPS)
    for (const pair of m.pairs) {
      const parts = splitKey(pair[0])
      if (parts?.ip === A) pair[0] = parts.prefix + ip + parts.rest
    }
    return `all of ${A} under ${show(ip)}`
  }],
  [2, 'huge value', (r, m) => {
    const i = anyIndex(r, m)
    const n = pick(r, HUGE)
    const base = valueAt(m, i) || 'action=accept'
    setValue(m, i, (base + ' ').repeat(Math.ceil(n / (base.length + 1))).slice(0, n))
    return `${keyAt(m, i)}: ${n} characters`
  }],
  [1, 'huge key', (r, m) => {
    const i = anyIndex(r, m)
    const n = pick(r, [512, 513, 4096])
    const key = keyAt(m, i)
    setKey(m, i, (key + '/' + 'x'.repeat(n)).slice(0, n))
    return `key of ${n} characters`
  }],
  [6, 'drop key', (r, m) => {
    const i = chance(r, 0.3) ? m.pairs.findIndex(([k]) => k === `${FW}${A}/policy`) : anyIndex(r, m)
    if (i < 0) return 'drop: no policy key'
    const [key] = m.pairs.splice(i, 1)[0] as Pair
    return `without ${key}`
  }],
  [6, 'extra key', (r, m) => {
    const key = pick(r, [
      `${FW}${A}/${pick(r, ODD_SUFFIXES)}`, `${FW}${A}/${String(int(r, 10_000)).padStart(4, '0')}`, `${RES}${A}/${pick(r, NAMES)}`,
      `${RES}${A}/`, `${RES}${A}`, `${RES}${A}/a/b`, '/qubes-firewall', '/qubes-firewall/', '/qubes-firewall//0001', '/foo',
      '', '__proto__', 'constructor', '/connected-ips6x', `/qubes-firewall/${A}/0001/x`, `${FW}${pick(r, ODD_IPS)}`,
      `${FW}${pick(r, ODD_IPS)}/policy`, `${FW}${pick(r, ODD_IPS)}/0000`, `${RES}${pick(r, ODD_IPS)}/www.lab.example`,
    ])
    const value = chance(r, 0.5) ? genRule(r) : pick(r, [...POLICIES, ...RESOLVED_VALUES])
    m.pairs.splice(int(r, m.pairs.length + 1), 0, [key, value])
    return `+ ${show(key)} = ${show(value)}`
  }],
  [2, 'non-string value', (r, m) => {
    const i = anyIndex(r, m)
    const v = pick(r, NON_STRINGS)
    setValue(m, i, v)
    return `${keyAt(m, i)} = ${show(v)}`
  }],
  [4, 'policy', (r, m) => {
    const i = m.pairs.findIndex(([k]) => k.endsWith('/policy'))
    const v = pick(r, POLICIES)
    if (i < 0) m.pairs.push([`${FW}${A}/policy`, v])
    else setValue(m, i, v)
    return `policy = ${show(v)}`
  }],
  [4, 'resolved', (r, m) => {
    const v = pick(r, RESOLVED_VALUES)
    const name = pick(r, ['www.lab.example', 'cdn.lab.example', 'unresolved.example', 'gone.example', pick(r, NAMES)])
    m.pairs.push([`${RES}${A}/${name}`, v])
    return `resolved ${show(name)} = ${show(v)}`
  }],
  [0.5, 'many rules', (r, m) => {
    const n = pick(r, [300, 3000, 10_000, 10_001])
    for (let i = 0; i < n; i++) m.pairs.push([`${FW}${A}/${String(9999 - i).padStart(4, '0')}`, chance(r, 0.9) ? 'action=accept proto=tcp dstports=1' : genRule(r)])
    return `${n} more rules`
  }],
]
const TOTAL_WEIGHT = MUTATIONS.reduce((sum, [w]) => sum + w, 0)

function pickMutation(r: Rng): [string, Mutation] {
  let roll = r() * TOTAL_WEIGHT
  for (const [w, name, mutate] of MUTATIONS) if ((roll -= w) < 0) return [name, mutate]
  const last = MUTATIONS[MUTATIONS.length - 1] as (typeof MUTATIONS)[number]
  return [last[1], last[2]]
}

/** A key that writes VM B's entries for real (as dom0 may): no longer a mutation of A's alone. */
const writesB = (key: string) => splitKey(key)?.ip === B

function mutate(r: Rng): Mutant {
  for (;;) {
    const m: Mutant = { pairs: A_PAIRS.map(([k, v]) => [k, v]), notes: [] }
    const count = 1 + (chance(r, 0.5) ? 0 : int(r, 4))
    for (let i = 0; i < count; i++) {
      const [name, fn] = pickMutation(r)
      m.notes.push(`${name}: ${fn(r, m)}`)
    }
    if (!m.pairs.some(([key]) => writesB(key) || key === '/connected-ips')) return m
  }
}

/** Pushes that are malformed as a whole: parsePush must throw PushError for each. */
function garbage(r: Rng): { push: unknown; note: string } {
  const good = () => entriesOf([...A_PAIRS, ...B_PAIRS, CONNECTED])
  const options: (() => unknown)[] = [
    () => null, () => 0, () => 42.5, () => 'entries', () => '', () => true, () => [], () => [...A_PAIRS, ...B_PAIRS],
    () => [entriesOf(A_PAIRS)],
    () => ({ ...good(), [`${FW}${A}/0000`]: { action: 'accept' } }),
    () => ({ ...good(), [`${FW}${A}/policy`]: ['accept'] }),
    () => ({ ...good(), [`${FW}${A}`]: null }),
    () => ({ ...good(), [`${FW}${A}`]: 0 }),
    () => ({ ...good(), [`${RES}${A}/www.lab.example`]: ['192.0.2.10'] }),
    () => ({ [FW]: good() }),
    () => ({ entries: good() }),
    () => ({ ...good(), '/connected-ips': '10.137.0.5 010.137.0.6' }),
    () => ({ ...good(), '/connected-ips': `${A},${B}` }),
    () => ({ ...good(), '/connected-ips6': A }),
    () => ({ ...good(), [`${FW}${A}/0000`]: 'x'.repeat(8193) }),
    () => ({ ...good(), [`/${'x'.repeat(600)}`]: '' }),
  ]
  const i = int(r, options.length)
  const push = (options[i] as () => unknown)()
  return { push, note: `whole push #${i}: ${show(push)}` }
}

// ---------------------------------------------------------------- fake effects and checks

function fakeEffects(): { fx: AgentEffects; loaded: string[] } {
  const loaded: string[] = []
  const fx: AgentEffects = {
    runNft: async (transaction) => void loaded.push(transactionText(transaction)),
    listNft: async (lists) => lists.map(() => undefined),
    resolve: async (names) => new Map(names.map((name) => [name, { error: 'fuzz: no DNS here' }])),
    nameservers: () => ({ 4: ['192.0.2.53'], 6: [] }),
    now: () => NOW,
  }
  return { fx, loaded }
}

const FIXED_CHAINS = [
  'postrouting', 'input', 'forward', 'custom-input', 'custom-forward', 'custom-dnat', 'qf-forward', 'qf-reject', 'qf-antispoof',
  'qf-dnat', 'qf-inbound',
]
const VM_MAPS = ['qf-vms', 'qf-vms-update']
const VERBS = ['add', 'insert', 'flush', 'delete']
/** Every fixed word the serialiser may write: nft keywords and punctuation, the table, fixed names. */
const KEYWORDS = new Set([
  ...VERBS, ...FIXED_CHAINS, ...VM_MAPS, ...VM_MAPS.map((m) => `@${m}`), 'qf-connected', '@qf-connected', 'table', 'chain', 'map',
  'set', 'element', 'rule', 'ip', 'ip6', 'qubes', '{', '}', ';', ':', ',', '.', '==', '!=', '<', 'type', 'hook', 'priority', 'policy',
  'filter', 'nat', 'prerouting', 'output', 'accept', 'drop', 'return', 'jump', 'goto', 'ipv4_addr', 'ipv6_addr', 'verdict', 'flags',
  'interval', 'meta', 'iifname', 'oifname', 'l4proto', 'time', 'iif', 'oif', 'tcp', 'udp', 'icmp', 'icmpv6', 'ipv6-icmp', 'saddr',
  'daddr', 'dport', 'ct', 'state', 'direction', 'status', 'established', 'related', 'invalid', 'reply', 'original', 'dnat', 'to', 'fib',
  'exists', 'missing', 'local', 'counter', 'reject', 'with', 'reset', 'admin-prohibited', 'vmap', 'masquerade', 'comment',
  // the drop log: its rate per source and its NFLOG rule in qf-reject
  'qf-log-rate', '@qf-log-rate', 'dynamic', 'timeout', 'size', '60s', 'update', 'limit', 'rate', '10/second', 'burst', 'packets', 'log',
  'prefix', 'group',
])
/** Quoted words other than comments: the interface names the renderer matches. */
const QUOTED = new Set(['"vif*"', '"lo"', '"qf-drop"'])
const FIXED_COMMENTS = ['qubes-firewall-agent', 'source is no known VM']
const V4_CANONICAL = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/
/** Ports, ICMP types, times: decimal, no leading zero, within 64-bit nanoseconds of time. */
const INTEGER = /^(0|[1-9][0-9]{0,9})$/
const LINE = /^(add|insert|flush|delete) (table|chain|map|set|element|rule) (ip|ip6) qubes( |$)/

function canonicalIp(s: string): 4 | 6 | undefined {
  if (V4_CANONICAL.test(s)) return 4
  if (/^[0-9a-f:]+$/.test(s) && s.includes(':') && ipaddr.IPv6.isValid(s) && ipaddr.IPv6.parse(s).toString() === s) return 6
  return undefined
}

/** A VM chain is `qf-vm-<its canonical address, . and : as ->-g<generation>`. */
const chainPrefix = (ip: string) => `qf-vm-${ip.replace(/[.:]/g, '-')}-g`
const VM_CHAIN = /^qf-vm-([0-9a-f-]{1,80})-g[0-9a-z]{1,24}$/

/** A name's set of a VM chain, `<chain>-n<k>` (`@` when a rule refers to it): the chain, or undefined. */
const setChain = (word: string): string | undefined => /^@?(qf-vm-[0-9a-f-]{1,80}-g[0-9a-z]{1,24})-n(?:0|[1-9][0-9]{0,3})$/.exec(word)?.[1]

/** The VM whose chain this is, or undefined when the name is not one of a VM chain. */
function chainVm(name: string): string | undefined {
  const dashed = VM_CHAIN.exec(name)?.[1]
  if (dashed === undefined) return undefined
  const v4 = dashed.replace(/-/g, '.')
  if (canonicalIp(v4) === 4) return v4
  const v6 = dashed.replace(/-/g, ':')
  return canonicalIp(v6) === 6 ? v6 : undefined
}

const AGENT_COMMENT = /^vm (\S+) (policy|rule (0|[1-9][0-9]{0,3})(: name did not resolve, blocking from here)?|blocked: rules did not parse)$/

function allowedComment(quoted: string): boolean {
  const comment = quoted.slice(1, -1)
  if (FIXED_COMMENTS.includes(comment)) return true
  const match = AGENT_COMMENT.exec(comment)
  return match !== null && canonicalIp(match[1] ?? '') !== undefined
}

/** The address in an address word (an address, a prefix, a dnat target), or undefined. */
function addressIn(word: string): { ip: string; family: 4 | 6 } | undefined {
  const bare = /^\[(.+)\]:(?:[1-9][0-9]{0,4})$/.exec(word)?.[1] ?? /^([0-9.]+):(?:[1-9][0-9]{0,4})$/.exec(word)?.[1] ?? word
  const [ip = '', len, ...rest] = bare.split('/')
  const family = canonicalIp(ip)
  if (family === undefined || rest.length > 0) return undefined
  if (len !== undefined && !(INTEGER.test(len) && Number(len) <= (family === 4 ? 32 : 128))) return undefined
  return { ip, family }
}

/** A word the serialiser may write at this place: a keyword, a typed value, a quoted comment. */
function allowedWord(word: string, previous: string | undefined): boolean {
  if (KEYWORDS.has(word) || QUOTED.has(word) || INTEGER.test(word) || chainVm(word) !== undefined) return true
  if (chainVm(setChain(word) ?? '') !== undefined) return true
  if (word.startsWith('"')) return previous === 'comment' && allowedComment(word)
  if (previous === 'priority' && /^-[1-9][0-9]{0,9}$/.test(word)) return true
  const range = /^(0|[1-9][0-9]{0,4})-(0|[1-9][0-9]{0,4})$/.exec(word)
  if (range) return Number(range[1]) <= Number(range[2]) && Number(range[2]) <= 65535
  return addressIn(word) !== undefined
}

/** One line of the script: its words (a quoted string is one word, each `,` one more), and what it acts on. */
interface Line {
  text: string
  verb: string
  object: string
  family: string
  name: string
  words: string[]
  comment?: string
}

function parseLine(text: string, where: string, problems: string[]): Line | undefined {
  const spaced = text.match(/"[^"]*"|[^\s"]+/g) ?? []
  if (spaced.join(' ') !== text) return void problems.push(`${where}: untrusted-looking line (spacing or quotes) ${show(text)}`)
  const head = LINE.exec(text)
  if (!head) return void problems.push(`${where}: not a command on our table: ${show(text)}`)
  const words = spaced.flatMap((w) => (w.startsWith('"') ? [w] : w.split(/(,)/).filter((part) => part !== '')))
  const comment = words.at(-2) === 'comment' ? words.at(-1)?.slice(1, -1) : undefined
  return { text, verb: head[1] as string, object: head[2] as string, family: head[3] as string, name: words[4] ?? '', words, ...(comment !== undefined && { comment }) }
}

/** Every word against the allowlist, one command a line (blocks expanded), addresses in the line's own family. */
function wordProblems(line: Line, where: string, problems: string[]): void {
  line.words.forEach((word, i) => {
    const previous = line.words[i - 1]
    if (!allowedWord(word, previous)) problems.push(`${where}: untrusted-looking word ${show(word)}`)
    if (i > 0 && VERBS.includes(word)) problems.push(`${where}: a second command in ${show(line.text)}`)
    const address = addressIn(word)
    if (address && (address.family === 4) !== (line.family === 'ip')) problems.push(`${where}: IPv${address.family} ${address.ip} in family ${line.family}`)
  })
  // `;` ends a command in nft: only the bodies of chains, sets and maps hold it
  if (line.words.includes(';') && !(line.verb === 'add' && ['chain', 'set', 'map'].includes(line.object))) problems.push(`${where}: a second command in ${show(line.text)}`)
}

/** The elements of an element line: `{ IP : goto CHAIN, IP }` as [IP, CHAIN?] pairs. */
function elementsOf(line: Line): [ip: string, target: string | undefined][] {
  const inside = line.words.slice(line.words.indexOf('{') + 1, line.words.lastIndexOf('}'))
  const groups: string[][] = [[]]
  for (const word of inside) {
    if (word === ',') groups.push([])
    else groups.at(-1)?.push(word)
  }
  return groups.map((g) => [g[0] ?? '', g[1] === ':' ? g[3] : undefined])
}

/**
 * What ties a VM to its chains: a rule's comment names the VM whose chain it is in (other chains
 * carry fixed comments only); a dispatch element sends a VM's address to that VM's own chain, and
 * (when `fresh`) to a chain this very transaction creates; no VM chain is created twice.
 */
function bindingProblems(lines: readonly Line[], fresh: boolean): string[] {
  const problems: string[] = []
  const created = new Set<string>()
  for (const line of lines.filter((l) => l.verb === 'add' && l.object === 'chain' && chainVm(l.name) !== undefined)) {
    if (created.has(line.name)) problems.push(`chain ${line.name} added twice`)
    created.add(line.name)
  }
  for (const line of lines) {
    if (line.object === 'rule' && line.comment !== undefined) {
      const ip = AGENT_COMMENT.exec(line.comment)?.[1]
      const fine = ip !== undefined ? chainVm(line.name) === ip : FIXED_COMMENTS.includes(line.comment)
      if (!fine) problems.push(`comment ${show(line.comment)} in chain ${show(line.name)}`)
    }
    // a rule matches only its own chain's name sets
    for (const word of line.object === 'rule' ? line.words.filter((w) => w.startsWith('@qf-vm-')) : []) {
      if (setChain(word) !== line.name) problems.push(`chain ${show(line.name)} refers to ${show(word)}`)
    }
    if (line.object !== 'element' || !VM_MAPS.includes(line.name)) continue
    for (const [ip, target] of elementsOf(line)) {
      if (target === undefined) continue
      if (chainVm(target) !== ip) problems.push(`${line.name}: ${ip} dispatched to ${show(target)}`)
      if (fresh && !created.has(target)) problems.push(`${line.name}: ${ip} dispatched to ${target}, a chain this transaction does not create`)
    }
  }
  return problems
}

/** Commands acting on VM B: naming one of its chains, its dispatch elements, or a dispatch map as a whole. */
function touchesB(line: Line): boolean {
  if (line.words.some((w) => w.startsWith(chainPrefix(B)))) return true
  if (line.family !== 'ip' || !VM_MAPS.includes(line.name)) return false
  return (line.object === 'element' && elementsOf(line).some(([ip]) => ip === B)) || (line.verb === 'flush' && line.object === 'map')
}

/** A command as text, its VM chains' generations blanked: generations differ from agent to agent. */
const sansGeneration = (text: string) => text.replace(/\b(qf-vm-[0-9a-f-]+)-g[0-9a-z]+\b/g, '$1-g*')

/** A line as far as it concerns B: of a dispatch map's elements (a full load adds all VMs' in one line), B's alone. */
function asForB(line: Line): string {
  if (line.object !== 'element') return line.text
  const mine = elementsOf(line).filter(([ip]) => ip === B).map(([ip, target]) => `${ip} : goto ${target}`)
  return `${line.verb} element ${line.family} qubes ${line.name} { ${mine.join(', ')} }`
}

const BLOCK_START = /^add chain (ip|ip6) qubes (\S+) \{$/
const BLOCK_RULE = /^ {2}(\S.*)$/

/**
 * The script's commands, one a line: a chain's block (`add chain F qubes C {`, its rules indented
 * two spaces, `}`) stands for the chain's `add chain` and an `add rule` per rule, so each rule is
 * checked as a command; a rule whose braces do not balance could close the block: a problem.
 */
function commandsOf(texts: readonly string[], problems: string[]): { text: string; where: string }[] {
  const commands: { text: string; where: string }[] = []
  let block: RegExpExecArray | null = null
  texts.forEach((text, i) => {
    const where = `line ${i + 1}`
    if (block === null) {
      block = BLOCK_START.exec(text)
      commands.push({ text: block === null ? text : `add chain ${block[1]} qubes ${block[2]}`, where })
    } else if (text === '}') {
      block = null
    } else {
      const body = BLOCK_RULE.exec(text)?.[1]
      if (body === undefined) return void problems.push(`${where}: not a rule of the block of ${block[2]}: ${show(text)}`)
      if (body.split('{').length !== body.split('}').length) problems.push(`${where}: unbalanced braces in a rule of ${block[2]}: ${show(text)}`)
      commands.push({ text: `add rule ${block[1]} qubes ${block[2]} ${body}`, where })
    }
  })
  if (block !== null) problems.push(`the block of chain ${(block as RegExpExecArray)[2]} is not closed`)
  return commands
}

interface Checked {
  problems: string[]
  bCommands: string[]
}

function checkTransactions(loaded: readonly string[], fresh = true): Checked {
  if (loaded.length !== 1) return { problems: [`${loaded.length} transactions, not one`], bCommands: [] }
  const script = loaded[0] as string
  // a transaction of no command (an update that changes nothing) is an empty script
  if (script !== '' && !script.endsWith('\n')) return { problems: ['the script does not end with a newline'], bCommands: [] }
  const problems: string[] = []
  const lines: Line[] = []
  const texts = script === '' ? [] : script.slice(0, -1).split('\n')
  commandsOf(texts, problems).forEach(({ text, where }) => {
    const line = parseLine(text, where, problems)
    if (line === undefined) return
    wordProblems(line, where, problems)
    lines.push(line)
  })
  problems.push(...bindingProblems(lines, fresh))
  return { problems, bCommands: lines.filter(touchesB).map((line) => sansGeneration(asForB(line))) }
}

const withoutB = (pairs: readonly Pair[]) => pairs.filter(([key]) => splitKey(key)?.ip !== B)
const vmsBut = (push: Push, ip: string) => new Map([...push.vms].filter(([k]) => k !== ip))

// ---------------------------------------------------------------- the baseline

const basePairs: Pair[] = [...A_PAIRS, ...B_PAIRS, CONNECTED]
const basePush = parsePush(entriesOf(basePairs))
const baseB = basePush.vms.get(B) as VmEntry
const baseRun = fakeEffects()
const baseResult = await new Agent(baseRun.fx).update(basePush)
const baseChecked = checkTransactions(baseRun.loaded)

t.test('the unmutated push', async (t) => {
  t.ok(basePush.vms.get(A)?.ok, `${A} parses`)
  t.ok(baseB?.ok, `${B} parses`)
  t.same(basePush.ignored, [], 'nothing ignored')
  t.same(baseChecked.problems, [], 'the transaction passes the allowlist')
  t.ok(baseChecked.bCommands.length > 3, `${B}'s chain, rules and dispatch element are in it`)
  t.same(baseResult.applied.sort(), [A, B], 'both VMs applied')
  t.ok(baseResult.failed.some((f) => f.vm === A && f.rule === 6 && f.name === 'unresolved.example'), 'the name nobody resolved fails')
  t.notOk(baseResult.failed.some((f) => f.vm === B), `${B} does not fail`)
})

// the checks themselves: each case is the unmutated script plus one line, and what it must report
t.test('the checks see what they look for', async (t) => {
  const aChain = `${chainPrefix(A)}1`
  const rule = (chain: string, statements: string) => `add rule ip qubes ${chain} ${statements}`
  const cases: [what: string, line: string, want: RegExp | 'touches B' | 'fine'][] = [
    ['a rule of A', rule(aChain, `ip daddr == 192.0.2.1 counter return comment "vm ${A} rule 3"`), 'fine'],
    ['untrusted text in a comment', rule(aChain, `counter comment "vm ${A} rule 3 x; flush ruleset"`), /untrusted-looking word/],
    ['a quote leaving the comment', rule(aChain, `counter comment "vm ${A} rule 3"; flush ruleset`), /untrusted-looking line/],
    ['a second command on one line', rule(aChain, `counter ; delete chain ip qubes ${aChain}`), /a second command/],
    ['a comment naming another VM', rule(aChain, `counter comment "vm ${B} policy"`), /comment .* in chain/],
    ['a non-canonical address in a chain name', rule(`${chainPrefix('10.137.0.05')}1`, 'counter'), /untrusted-looking word/],
    ['a name in a set', rule(aChain, 'ip daddr == { www.lab.example } counter'), /untrusted-looking word "www.lab.example"/],
    ['an IPv6 address in family ip', rule(aChain, 'ip daddr == 2001:db8::1 counter'), /IPv6 2001:db8::1 in family ip/],
    ['a command on something else', 'flush ruleset', /not a command on our table/],
    ['a fraction', rule(aChain, 'tcp dport == 1.5 counter'), /untrusted-looking word "1.5"/],
    ['A dispatched to a chain of B', `add element ip qubes qf-vms { ${A} : goto ${chainPrefix(B)}1 }`, /dispatched to/],
    ['A dispatched to a chain nobody created', `add element ip qubes qf-vms { ${A} : goto ${chainPrefix(A)}zz }`, /does not create/],
    ['a rule in a chain of B', rule(`${chainPrefix(B)}1`, 'counter'), 'touches B'],
    ['B out of the overlay map', `delete element ip qubes qf-vms-update { ${B} }`, 'touches B'],
    ['a rule of A matching its own name set', rule(aChain, `ip daddr == @${aChain}-n0 counter return`), 'fine'],
    ['a rule of A matching a set of B', `add rule ip qubes ${chainPrefix(A)}0 ip daddr == @${chainPrefix(B)}1-n0 counter return`, /refers to/],
  ]
  t.plan(cases.length)
  for (const [what, line, want] of cases) {
    const checked = checkTransactions([`${baseRun.loaded[0] as string}${line}\n`])
    if (want === 'fine') t.same([checked.problems, checked.bCommands.length], [[], baseChecked.bCommands.length], what)
    else if (want === 'touches B') t.same([checked.problems, checked.bCommands.length], [[], baseChecked.bCommands.length + 1], what)
    else t.match(checked.problems.join('\n'), want, what)
  }
})

// ---------------------------------------------------------------- the fuzz run

interface Finding {
  case: number
  check: string
  detail: string
  mutations: string[]
}

t.test(`mutated pushes (seed ${SEED})`, async (t) => {
  t.comment(`FUZZ_SEED=${SEED}${ONLY_CASE !== undefined ? ` FUZZ_CASE=${ONLY_CASE}` : ''}`)
  const started = Date.now()
  const findings: Finding[] = []
  const stats = { cases: 0, mutations: 0, garbage: 0, pushError: 0, parsed: 0, aOk: 0, aFailed: 0, aAbsent: 0, otherVms: 0, transactions: 0 }
  const found = (i: number, check: string, detail: string, mutations: string[]) => findings.push({ case: i, check, detail, mutations })

  // one long-lived agent, as the daemon: it holds the unmutated push and takes every update of A
  const held = fakeEffects()
  const holder = new Agent(held.fx)
  await holder.replace(basePush)
  const bChain = holder.loadedVms().get(B)?.chain
  const first = ONLY_CASE ?? 0
  const last = ONLY_CASE ?? CASES - 1
  for (let i = first; i <= last; i++) {
    const r = rngFor(SEED, i)
    stats.cases++
    // a few pushes are garbage as a whole; the rest mutate A's entries only
    if (chance(r, 0.03)) {
      stats.garbage++
      const { push, note } = garbage(r)
      try {
        parsePush(push)
        found(i, 'garbage push accepted', 'parsePush returned', [note])
      } catch (err) {
        if (!(err instanceof PushError)) found(i, 'parsePush threw other than PushError', `${(err as Error).name}: ${(err as Error).message}`, [note])
        else stats.pushError++
      }
      continue
    }
    const m = mutate(r)
    stats.mutations += m.notes.length
    const pairs = [...m.pairs, ...B_PAIRS, CONNECTED]
    // VM B's keys go first or last: order must not matter
    if (chance(r, 0.3)) pairs.unshift(...pairs.splice(m.pairs.length, B_PAIRS.length))

    let push: Push
    try {
      push = parsePush(entriesOf(pairs))
    } catch (err) {
      if (err instanceof PushError) stats.pushError++
      else found(i, 'parsePush threw other than PushError', `${(err as Error).name}: ${(err as Error).message}`, m.notes)
      continue
    }
    stats.parsed++
    const aEntry = push.vms.get(A)
    if (aEntry === undefined) stats.aAbsent++
    else if (aEntry.ok) stats.aOk++
    else stats.aFailed++
    if ([...push.vms.keys()].some((ip) => ip !== A && ip !== B)) stats.otherVms++
    if (!isDeepStrictEqual(push.vms.get(B), baseB)) found(i, `${B} parsed differently`, show(push.vms.get(B)), m.notes)

    // the same push without B's keys: A (and any other VM) parses the same, B is absent
    let pushWithoutB: Push | undefined
    try {
      pushWithoutB = parsePush(entriesOf(withoutB(pairs)))
      if (!isDeepStrictEqual(vmsBut(push, B), new Map(pushWithoutB.vms))) found(i, 'other VMs parse differently beside B', '', m.notes)
    } catch (err) {
      found(i, 'push without B refused', `${(err as Error).name}: ${(err as Error).message}`, m.notes)
    }

    // a fresh agent: B's commands are exactly those of the unmutated push
    const run = fakeEffects()
    let result: ApplyResult
    try {
      result = await new Agent(run.fx).update(push)
    } catch (err) {
      found(i, 'Agent.update threw', `${(err as Error).name}: ${(err as Error).message}`, m.notes)
      continue
    }
    stats.transactions++
    if (result.failed.some((f) => f.vm === B)) found(i, `${B} reported failed`, show(result.failed.filter((f) => f.vm === B)), m.notes)
    if (!result.applied.includes(B)) found(i, `${B} not applied`, show(result.applied), m.notes)
    const checked = checkTransactions(run.loaded)
    if (checked.problems.length > 0) found(i, 'transaction outside the allowlist', checked.problems.slice(0, 3).join('; '), m.notes)
    if (!isDeepStrictEqual(checked.bCommands, baseChecked.bCommands)) {
      const extra = checked.bCommands.filter((c) => !baseChecked.bCommands.includes(c))
      found(i, `${B}'s commands changed`, show(extra.length > 0 ? extra : checked.bCommands), m.notes)
    }

    // the agent that holds the unmutated push: an update of A alone never touches B
    if (pushWithoutB !== undefined) {
      held.loaded.length = 0
      try {
        await holder.update(pushWithoutB)
        stats.transactions++
        const update = checkTransactions(held.loaded)
        if (update.problems.length > 0) found(i, 'transaction outside the allowlist (update of A alone)', update.problems.slice(0, 3).join('; '), m.notes)
        if (update.bCommands.length > 0) found(i, `update of A alone touches ${B}`, show(update.bCommands), m.notes)
        // the daemon's clean-up after the answer: moves A's entry, deletes A's old chain, never B's
        held.loaded.length = 0
        if (holder.hasGarbage()) {
          await holder.collectGarbage()
          stats.transactions++
          const cleanup = checkTransactions(held.loaded, false)
          if (cleanup.problems.length > 0) found(i, 'clean-up outside the allowlist', cleanup.problems.slice(0, 3).join('; '), m.notes)
          if (cleanup.bCommands.length > 0) found(i, `clean-up after an update of A alone touches ${B}`, show(cleanup.bCommands), m.notes)
        }
        const heldB = holder.loadedVms().get(B)
        if (!isDeepStrictEqual(heldB?.entry, baseB) || heldB?.chain !== bChain) found(i, `${B} no longer held as pushed`, show(heldB?.chain), m.notes)
      } catch (err) {
        found(i, 'Agent.update threw (update of A alone)', `${(err as Error).name}: ${(err as Error).message}`, m.notes)
      }
    }
  }

  const seconds = (Date.now() - started) / 1000
  t.comment(`${stats.cases} cases (${stats.garbage} whole-push garbage), ${stats.mutations} mutations of ${A}'s entries, in ${seconds.toFixed(1)} s`)
  t.comment(`parsePush: ${stats.parsed} returned (${A}: ${stats.aOk} ok, ${stats.aFailed} failed closed, ${stats.aAbsent} absent; ${stats.otherVms} with another VM), ${stats.pushError} PushError`)
  t.comment(`${stats.transactions} nft transactions checked against the allowlist`)
  const byCheck = new Map<string, Finding[]>()
  for (const f of findings) byCheck.set(f.check, [...(byCheck.get(f.check) ?? []), f])
  for (const [check, list] of byCheck) {
    t.comment(`FINDING ${check}: ${list.length} case(s), e.g. FUZZ_CASE=${list[0]?.case}`)
  }
  const examples = [...byCheck.values()].map((list) => list.slice(0, 2)).flat()
  t.same(examples, [], `no findings in ${stats.cases} cases (seed ${SEED})`)
  if (ONLY_CASE === undefined) t.ok(stats.pushError > 0 && stats.aOk > 0 && stats.aFailed > 0 && stats.aAbsent > 0 && stats.otherVms > 0, 'the mutations reach every outcome')
})

// ---------------------------------------------------------------- the socket's line handler

/** Lines known to be interesting: not JSON, not objects, odd ops, odd entries, odd ips. */
function corpusLines(): string[] {
  const good = JSON.stringify(entriesOf(basePairs))
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n)
  return [
    '', ' ', 'null', '0', '"update"', '[]', '{}', '{"op":null}', '{"op":"update"}', '{"op":"replace"}', '{"op":"status"}',
    '{"op":"remove"}', '{"op":"remove","ips":"10.137.0.6"}', '{"op":"remove","ips":["010.137.0.6"]}', '{"op":"remove","ips":[{}]}',
    '{"op":"remove","ips":[{"toString":1}]}', '{"op":"remove","ips":[null]}', '{"op":"update","entries":[]}',
    '{"op":"update","entries":null}', '{"op":"update","entries":"x"}', '{"op":"update","entries":{"__proto__":"x"}}',
    '{"op":"update","entries":{"__proto__":{"/qubes-firewall/10.137.0.5":""}}}', '{"op":"update","entries":{"constructor":"x"}}',
    `{"op":"update","entries":{"/qubes-firewall/${A}":{"toString":1}}}`, '{"op":"UPDATE","entries":{}}', '{"op":"update ","entries":{}}',
    '{"op":["update"],"entries":{}}', '{"op":1e400}', '{"op":{}}', '{"op":{"toString":1}}', '{"op":{"toString":{}}}',
    '{"op":{"valueOf":1,"toString":1}}', `{"op":${deep(20_000)}}`, deep(200_000), `{"op":"update","entries":${deep(20_000)}}`,
    `{"op":"update","entries":${good}`, `{"op":"update","entries":${good}}}`, `{"op":"update","entries":${good},"op":"status"}`,
    `{"op":"update","op":"replace","entries":${good}}`, `{"op":"update","entries":${good.slice(0, -1)},"/qubes-firewall/${A}/policy":"accept","/qubes-firewall/${A}/policy":7}}`,
    `{"op":"update","entries":{"/qubes-firewall/${A}":"","/qubes-firewall/${A}/policy":"${'x'.repeat(9000)}"}}`,
    `{"op":"update","entries":{"/qubes-firewall/${A}":"","/qubes-firewall/${A}/policy":"accept","/qubes-firewall/${A}/0000":"action=accept\\u0000"}}`,
    `{"op":"update","entries":{"/qubes-firewall/${A}":"","/qubes-firewall/${A}/policy":"accept","/qubes-firewall/${A}/0000":"action=accept dsthost=\\ud800"}}`,
    '\u0000', '\ufeff{"op":"status"}', '{"op":"status"}\u0000', '{"op":"status"', "{'op':'status'}", 'NaN', '{"op":"status",}',
  ]
}

/** A line mutated as text: flips, cuts and insertions in the JSON itself. */
function mutateLine(r: Rng, line: string): string {
  let text = line
  const n = 1 + int(r, 3)
  for (let i = 0; i < n; i++) {
    const at = int(r, text.length + 1)
    const roll = r()
    if (roll < 0.35) text = text.slice(0, at) + randChar(r) + text.slice(at + 1)
    else if (roll < 0.6) text = text.slice(0, at) + pick(r, ['"', '{', '}', ',', ':', '[', '\\', '\\u', '0', 'null', '"op"']) + text.slice(at)
    else if (roll < 0.85) text = text.slice(0, at) + text.slice(at + 1 + int(r, 5))
    else text = text.slice(0, at)
  }
  return text
}

t.test('handleRequest answers every line', async (t) => {
  const { fx, loaded } = fakeEffects()
  const agent = new Agent(fx)
  const state = new PersistedState(join(t.testdir(), 'state'))
  const lines: [line: string, note: string][] = corpusLines().map((line, i) => [line, `corpus #${i}`])
  for (let i = 0; i < LINES; i++) {
    const r = rngFor(SEED ^ 0x11e5, i)
    const m = mutate(r)
    const pairs = [...m.pairs, ...B_PAIRS, CONNECTED]
    const op = pick(r, ['update', 'update', 'update', 'replace'])
    const line = JSON.stringify({ op, entries: entriesOf(pairs) })
    lines.push(chance(r, 0.75) ? [line, `${op} #${i}: ${m.notes.join(' / ')}`] : [mutateLine(r, line), `garbled ${op} #${i}`])
  }

  const findings: { line: string; note: string; observed: string }[] = []
  const restartFindings: typeof findings = []
  let answered = 0
  let ok = 0
  for (const [line, note] of lines) {
    const before = loaded.length
    let response: unknown
    try {
      response = await handleRequest(agent, state, line)
    } catch (err) {
      findings.push({ line: show(line), note, observed: `threw ${(err as Error).name}: ${(err as Error).message}` })
      continue
    }
    if (typeof response !== 'object' || response === null || typeof (response as { ok?: unknown }).ok !== 'boolean') {
      findings.push({ line: show(line), note, observed: `answered ${show(response)}` })
      continue
    }
    let text: string
    try {
      text = JSON.stringify(response)
    } catch (err) {
      findings.push({ line: show(line), note, observed: `answer not serialisable: ${(err as Error).message}` })
      continue
    }
    if (text.includes('\n')) findings.push({ line: show(line), note, observed: 'answer spans lines' })
    for (const script of loaded.slice(before)) {
      const checked = checkTransactions([script])
      if (checked.problems.length > 0) findings.push({ line: show(line), note, observed: checked.problems.slice(0, 3).join('; ') })
    }
    // as the daemon does once the answer is out
    const beforeCleanup = loaded.length
    if (agent.hasGarbage()) await agent.collectGarbage()
    for (const script of loaded.slice(beforeCleanup)) {
      const checked = checkTransactions([script], false)
      if (checked.problems.length > 0) findings.push({ line: show(line), note, observed: `clean-up: ${checked.problems.slice(0, 3).join('; ')}` })
    }
    answered++
    if ((response as { ok: boolean }).ok) ok++
    // a restart restores what is in force now: the persisted entries parse to the VMs the agent holds
    const restarted = new Agent(fakeEffects().fx)
    const saved = restoredPush(state.load() ?? {})
    await restarted.restore(saved.push, saved.cached)
    // what is enforced: the rules, and the addresses names stand for (the state keeps names the
    // agent resolved as dom0 would give them, so a restart needs no DNS: compare effective answers)
    const enforced = (vm: LoadedVm) => ({ ...vm, entry: vm.entry.ok ? { ...vm.entry, vm: { ...vm.entry.vm, resolved: null } } : vm.entry, chain: null, inOverlay: null, retired: null, names: null, sets: null })
    const live = new Map([...agent.loadedVms()].map(([ip, vm]) => [ip, enforced(vm)]))
    const restored = new Map([...restarted.loadedVms()].map(([ip, vm]) => [ip, enforced(vm)]))
    if (!isDeepStrictEqual(live, restored)) {
      const differ = [...new Set([...live.keys(), ...restored.keys()])].filter((ip) => !isDeepStrictEqual(live.get(ip), restored.get(ip)))
      const describe = (v: ReturnType<typeof enforced> | undefined) => {
        const e = v?.entry
        return e === undefined ? 'absent' : e.ok ? `policy ${e.vm.policy}, ${e.vm.rules.length} rules, names ${JSON.stringify([...(v?.resolution ?? [])])}` : 'blocked'
      }
      restartFindings.push({ line: show(line), note, observed: differ.map((ip) => `${ip}: live ${describe(live.get(ip))}, after restart ${describe(restored.get(ip))}`).join('; ') })
      // go on from what a restart would hold, so each finding is about its own line
      await agent.replace(parsePush(state.load() ?? {}))
      if (agent.hasGarbage()) await agent.collectGarbage()
    }
  }
  t.comment(`${lines.length} lines (${corpusLines().length} from the corpus), ${answered} answered with a boolean ok (${ok} ok:true), ${loaded.length} transactions`)
  t.same(findings, [], 'every line gets an object with a boolean ok, and nothing throws')
  for (const f of restartFindings.slice(0, 4)) t.comment(`restart differs after ${f.note.slice(0, 160)}: ${f.observed}`)
  t.same(restartFindings.slice(0, 4), [], `a restart restores the VMs in force (${restartFindings.length} of ${lines.length} lines differ)`)
})
