// Pure derivation of each domain from qubes.xml, with Qubes' rules (qubes/vm/mix/net.py): the
// netvm in effect (explicit, else default_netvm; loops broken as on loading) and the ip/ip6
// addresses in effect (explicit, else from the qid or a DispVM's dispid).
import { ADMIN_CLASS, entryNamed, nameOf, providesNetworkOf, qidOf, type Domain } from './domain.js'
import type { QubesXml, XmlDomain } from './qubes-xml.js'
import { decimal } from './values.js'

// qubes.config.qubes_ipv6_prefix
const IPV6_PREFIX = 'fd09:24ef:4179:'

type NetvmOf = Map<string, string | undefined>
type EntryNamed = (name: string) => XmlDomain | undefined

/** default_netvm, when it names a network-providing domain other than `name` itself. */
export function defaultNetvm(doc: QubesXml, name: string, named: EntryNamed = (other) => entryNamed(doc.domains, other)): string | undefined {
  const fallback = doc.globals.get('default_netvm')?.value
  if (fallback === undefined || fallback === '' || fallback === name) return undefined
  const target = named(fallback)
  return target !== undefined && providesNetworkOf(target) ? fallback : undefined
}

/** Each domain's netvm in effect; `entries` in qid order. */
function effectiveNetvms(doc: QubesXml, entries: readonly XmlDomain[], named: EntryNamed): NetvmOf {
  const netvmOf: NetvmOf = new Map()
  for (const entry of entries) {
    const explicit = entry.props.get('netvm')?.value
    const name = nameOf(entry)
    // an empty netvm property is none; an absent one is default_netvm
    const netvm = explicit === undefined ? defaultNetvm(doc, name, named) : explicit || undefined
    netvmOf.set(name, entry.klass === ADMIN_CLASS ? undefined : netvm)
  }
  // as Qubes on loading (on_domain_load_netvm_loop_check): in qid order, a domain whose netvm
  // leads back to it loses its netvm
  for (const entry of entries) {
    const name = nameOf(entry)
    const seen = new Set<string>()
    for (let at = netvmOf.get(name); at !== undefined && !seen.has(at); at = netvmOf.get(at)) {
      if (at === name) {
        netvmOf.set(name, undefined)
        break
      }
      seen.add(at)
    }
  }
  return netvmOf
}

// Qubes' features.check_with_netvm('ipv6'): the domain's feature, else its netvm's, upwards;
// any non-empty value is on
function ipv6Enabled(named: EntryNamed, netvmOf: NetvmOf, name: string): boolean {
  const seen = new Set<string>()
  for (let at: string | undefined = name; at !== undefined && !seen.has(at); at = netvmOf.get(at)) {
    const value = named(at)?.features.get('ipv6')
    if (value !== undefined) return value !== ''
    seen.add(at)
  }
  return false
}

/** The domain's addresses in effect. */
function addresses(entry: XmlDomain, qid: number, networked: boolean, ipv6: () => boolean): Pick<Domain, 'ip' | 'ip6'> {
  // a DispVM's address comes from its dispid (Qubes), else from its qid
  const isDisp = entry.klass === 'DispVM'
  const number = isDisp ? (decimal(entry.props.get('dispid')?.value) ?? qid) : qid
  // an explicit address holds even when not networked, as in Qubes; dom0 has none
  const explicitIp = entry.klass === ADMIN_CLASS ? undefined : entry.props.get('ip')?.value
  const explicitIp6 = entry.klass === ADMIN_CLASS ? undefined : entry.props.get('ip6')?.value
  return {
    ip: explicitIp ?? (networked ? `${isDisp ? '10.138' : '10.137'}.${(number >> 8) & 0xff}.${number & 0xff}` : undefined),
    ip6: explicitIp6 ?? (networked && ipv6() ? `${IPV6_PREFIX}:${isDisp ? 'a8a' : 'a89'}:${number.toString(16)}` : undefined),
  }
}

/** Every domain of `doc` as the registry shows it, by name, in qid order. */
export function deriveDomains(file: string, doc: QubesXml): Map<string, Domain> {
  const entries = [...doc.domains].sort((a, b) => qidOf(file, a) - qidOf(file, b))
  // one lookup table, not a search per domain and hop (the first of a name, should one repeat)
  const byName = new Map<string, XmlDomain>()
  for (const entry of entries) if (!byName.has(nameOf(entry))) byName.set(nameOf(entry), entry)
  const named: EntryNamed = (name) => byName.get(name)
  const netvmOf = effectiveNetvms(doc, entries, named)
  const domains = new Map<string, Domain>()
  for (const entry of entries) {
    const name = nameOf(entry)
    const qid = qidOf(file, entry)
    const netvm = netvmOf.get(name)
    const providesNetwork = providesNetworkOf(entry)
    const networked = entry.klass !== ADMIN_CLASS && (providesNetwork || netvm !== undefined)
    domains.set(name, {
      qid,
      name,
      klass: entry.klass,
      netvm,
      providesNetwork,
      ...addresses(entry, qid, networked, () => ipv6Enabled(named, netvmOf, name)),
      props: Object.fromEntries([...entry.props].map(([prop, { value }]) => [prop, value])),
      features: Object.fromEntries(entry.features),
    })
  }
  return domains
}
