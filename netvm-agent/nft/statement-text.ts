// A rule's statements, and the values they hold, in nft's native syntax (serialise.ts writes the
// objects and commands around them). Each value matches a strict pattern or a fixed list, or is
// re-formatted from its parsed value; one that does not is an Error, never escaped.
import ipaddr from 'ipaddr.js'
import { NFT_FAMILIES, type NftFamily, type Selector, type Statement, type Value, type Verdict } from './model.js'

/** nft identifiers without a space, quote, brace or `;` (a name that is an nft keyword, as `fwd`, fails to load, it cannot inject). */
const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,127}$/
/** Qubes' safe comment characters; a `"`, `\` or newline could leave nft's quoted string. nft keeps 128 bytes. */
const COMMENT = /^[A-Za-z0-9 :;,./_[\]-]{1,128}$/
/** An interface name (IFNAMSIZ), or a prefix with nft's wildcard `*`. */
const IFNAME = /^(?:[A-Za-z0-9_.-]{1,15}|[A-Za-z0-9_.-]{0,14}\*)$/
/** A dotted quad as nft prints it: no leading zeros, each part 0-255. */
const IPV4_CANONICAL = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/

const META_KEYS = ['iifname', 'oifname', 'l4proto', 'time', 'iif', 'oif']
const PAYLOAD_FIELDS = new Map([
  ['ip', ['saddr', 'daddr']], ['ip6', ['saddr', 'daddr']], ['tcp', ['sport', 'dport']], ['udp', ['sport', 'dport']],
  ['icmp', ['type', 'code']], ['icmpv6', ['type', 'code']],
])
const CT_VALUES = new Map([
  ['state', ['invalid', 'established', 'related', 'new', 'untracked']],
  ['direction', ['original', 'reply']],
  ['status', ['expected', 'seen-reply', 'assured', 'confirmed', 'snat', 'dnat', 'dying']],
])
const L4PROTOS = ['tcp', 'udp', 'icmp', 'ipv6-icmp']
const OPS = ['==', '!=', '<']
// nft keeps time in 64-bit nanoseconds: seconds up to the year 2262
const MAX_TIME = 9_223_372_036

export function refuse(what: string, value: unknown): never {
  const text = JSON.stringify(value) ?? String(value)
  throw new Error(`nft serialise: invalid ${what} ${text.length > 80 ? `${text.slice(0, 80)}…` : text}`)
}

export const keyword = (what: string, list: readonly string[], value: unknown): string =>
  typeof value === 'string' && list.includes(value) ? value : refuse(what, value)
export const integer = (what: string, min: number, max: number, value: unknown): string =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max ? String(value) : refuse(what, value)
export const name = (value: unknown): string => (typeof value === 'string' && NAME.test(value) ? value : refuse('name', value))

// parsing an IPv6 address costs ~8 us: a ruleset repeats its addresses, so each is parsed once
const ipv6Texts = new Map<string, string>()

/** An address of one family: a canonical dotted quad, or IPv6 written from its parsed value (no zone id, no dotted tail). */
export function nftAddress(family: NftFamily, value: unknown): string {
  if (typeof value === 'string' && family === 'ip' && IPV4_CANONICAL.test(value)) return value
  const hex = family === 'ip6' && typeof value === 'string' && /^[0-9A-Fa-f:]+$/.test(value)
  if (!hex) return refuse(`${family === 'ip' ? 'IPv4' : 'IPv6'} address`, value)
  const known = ipv6Texts.get(value)
  if (known !== undefined) return known
  const text = ipaddr.IPv6.isValid(value) ? ipaddr.IPv6.parse(value).toString() : refuse('IPv6 address', value)
  if (ipv6Texts.size >= 10_000) ipv6Texts.clear()
  ipv6Texts.set(value, text)
  return text
}

export function nftComment(value: unknown): string {
  if (typeof value !== 'string' || !COMMENT.test(value)) refuse('comment (allowed: A-Z a-z 0-9 space : ; , . / _ [ ] -, at most 128)', value)
  return `"${value}"`
}

/** What a selector compares with: how one value is written, and which compound forms it takes. */
interface ValueType {
  scalar: (value: unknown) => string
  /** Addresses take prefixes; ports and ICMP types take ranges; ct state and status take flag lists. */
  form?: { prefix: NftFamily } | 'range' | 'flags'
}

// renderers share selector objects: each one's value type is made once
const valueTypes = new WeakMap<Selector, ValueType>()

function valueType(selector: Selector): ValueType {
  let type = valueTypes.get(selector)
  if (type === undefined) valueTypes.set(selector, (type = newValueType(selector)))
  return type
}

function newValueType(selector: Selector): ValueType {
  if ('meta' in selector) {
    const key = selector.meta.key
    if (key === 'l4proto') return { scalar: (v) => keyword('l4proto', L4PROTOS, v) }
    if (key === 'time') return { scalar: (v) => integer('time', 0, MAX_TIME, v) }
    return { scalar: (v) => (typeof v === 'string' && IFNAME.test(v) ? `"${v}"` : refuse('interface name', v)) }
  }
  if ('payload' in selector) {
    const { protocol, field } = selector.payload
    if (protocol === 'ip' || protocol === 'ip6') return { scalar: (v) => nftAddress(protocol, v), form: { prefix: protocol } }
    const max = field.endsWith('port') ? 65535 : 255
    return { scalar: (v) => integer(`${protocol} ${field}`, 0, max, v), form: 'range' }
  }
  if ('ct' in selector) {
    const key = selector.ct.key
    const list = CT_VALUES.get(key) ?? refuse('ct key', key)
    return { scalar: (v) => keyword(`ct ${key}`, list, v), ...(key !== 'direction' && { form: 'flags' as const }) }
  }
  if (selector.fib.result === 'oif') return { scalar: (v) => (typeof v === 'boolean' ? (v ? 'exists' : 'missing') : refuse('fib oif', v)) }
  return { scalar: (v) => keyword('fib type', ['unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit'], v) }
}

function selectorText(selector: Selector): string {
  if ('meta' in selector) return `meta ${keyword('meta key', META_KEYS, selector.meta.key)}`
  if ('payload' in selector) {
    const { protocol, field } = selector.payload
    const fields = PAYLOAD_FIELDS.get(protocol) ?? refuse('payload protocol', protocol)
    return `${protocol} ${keyword(`${protocol} field`, fields, field)}`
  }
  if ('ct' in selector) return `ct ${keyword('ct key', [...CT_VALUES.keys()], selector.ct.key)}`
  const { result, flags } = selector.fib
  if (flags.length === 0) refuse('fib flags', flags)
  return `fib ${flags.map((f) => keyword('fib flag', ['saddr', 'daddr', 'iif', 'oif'], f)).join(' . ')} ${keyword('fib result', ['oif', 'type'], result)}`
}

export function prefixText(family: NftFamily, prefix: { addr: string; len: number }): string {
  return `${nftAddress(family, prefix.addr)}/${integer('prefix length', 0, family === 'ip' ? 32 : 128, prefix.len)}`
}

/** One right-hand side: a set reference, a scalar, or the compound forms its type allows. */
function valueText(type: ValueType, value: Value): string {
  const form = type.form
  if (typeof value === 'string' && value.startsWith('@')) return `@${name(value.slice(1))}`
  if (Array.isArray(value)) {
    if (form !== 'flags' || value.length === 0) refuse('flag list', value)
    return value.map(type.scalar).join(',')
  }
  if (typeof value !== 'object') return type.scalar(value)
  if ('prefix' in value) return typeof form === 'object' ? prefixText(form.prefix, value.prefix) : refuse('prefix', value)
  if ('range' in value) {
    const [from, to] = value.range
    if (form !== 'range' || !(from <= to)) refuse('range', value)
    return `${type.scalar(from)}-${type.scalar(to)}`
  }
  if (value.set.length === 0) refuse('empty set', value)
  const item = (v: (typeof value.set)[number]) => (typeof v === 'object' ? valueText(type, v) : type.scalar(v))
  return `{ ${value.set.map(item).join(', ')} }`
}

export function verdictText(verdict: Verdict): string | undefined {
  if ('jump' in verdict) return `jump ${name(verdict.jump.target)}`
  if ('goto' in verdict) return `goto ${name(verdict.goto.target)}`
  return 'accept' in verdict ? 'accept' : 'drop' in verdict ? 'drop' : 'return' in verdict ? 'return' : undefined
}

function dnatText(dnat: { addr: string; port?: number; family?: NftFamily }, tableFamily: NftFamily): string {
  const family = dnat.family === undefined ? tableFamily : keyword('family', NFT_FAMILIES, dnat.family) as NftFamily
  const addr = nftAddress(family, dnat.addr)
  const port = dnat.port === undefined ? '' : `:${integer('dnat port', 1, 65535, dnat.port)}`
  const target = family === 'ip6' && port !== '' ? `[${addr}]${port}` : `${addr}${port}`
  return `dnat ${dnat.family === undefined ? '' : `${family} `}to ${target}`
}

function setUpdateText(update: Extract<Statement, { set: unknown }>['set']): string {
  const { op, elem, set, stmt } = update
  const [{ limit }] = stmt
  if (op !== 'update' || stmt.length !== 1 || limit.per !== 'second' || limit.burst_unit !== 'packets') refuse('set update', update)
  const rate = `limit rate ${integer('rate', 1, 2 ** 32 - 1, limit.rate)}/second burst ${integer('burst', 0, 2 ** 32 - 1, limit.burst)} packets`
  return `update @${name(set.startsWith('@') ? set.slice(1) : refuse('set reference', set))} { ${selectorText(elem)} ${rate} }`
}

export function statementText(statement: Statement, family: NftFamily): string {
  if ('match' in statement) {
    const { op, left, right } = statement.match
    const selector = selectorText(left)
    // `in` is nft's implicit operator: for ct state and status, "any of these flags"
    return `${selector} ${op === 'in' ? '' : `${keyword('operator', OPS, op)} `}${valueText(valueType(left), right)}`
  }
  if ('counter' in statement) return 'counter'
  if ('masquerade' in statement) return 'masquerade'
  if ('vmap' in statement) {
    const { key, data } = statement.vmap
    return `${selectorText(key)} vmap @${name(data.startsWith('@') ? data.slice(1) : refuse('vmap', data))}`
  }
  if ('reject' in statement) {
    const { type, expr } = statement.reject
    if (type === 'tcp reset' && expr === undefined) return 'reject with tcp reset'
    return `reject with ${keyword('reject type', ['icmp', 'icmpv6', 'icmpx'], type)} ${keyword('reject code', ['admin-prohibited', 'port-unreachable'], expr)}`
  }
  if ('dnat' in statement) return dnatText(statement.dnat, family)
  if ('set' in statement) return setUpdateText(statement.set)
  if ('log' in statement) {
    const { prefix, group } = statement.log
    return `log prefix ${nftComment(prefix)} group ${integer('log group', 0, 65535, group)}`
  }
  return verdictText(statement) ?? refuse('statement', statement)
}
