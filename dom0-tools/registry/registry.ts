// The dom0 registry: the domains of a qubes.xml, its queries and edits, with Qubes' defaults and
// messages (qubes/vm/__init__.py, qubes/vm/mix/net.py). On disk: store.ts (changes go through
// modifyRegistry()); the value rules: values.ts.
import { StoreError, UsageError } from '../../common/errors.js'
import { validateName } from '../../common/qube-name.js'
import { serialiseQubesXml, type QubesXml, type XmlDomain } from './qubes-xml.js'
import {
  GLOBAL_PROPERTY_VALUES, PROPERTY_NAME, QUBES_GLOBAL_PROPERTIES, checkIp, checkIp6, checkOpaqueValue, decimal, noSuchProperty, parseBool,
} from './values.js'

export interface Domain {
  readonly qid: number
  readonly name: string
  readonly klass: string
  /** the netvm in effect: the explicit one, else the global default_netvm; undefined is none */
  readonly netvm: string | undefined
  readonly providesNetwork: boolean
  /** the address in effect (explicit or Qubes' default); undefined when the domain is not networked */
  readonly ip: string | undefined
  readonly ip6: string | undefined
  /** properties set explicitly, as stored (a `ref=` property holds its ref) */
  readonly props: Readonly<Record<string, string>>
  readonly features: Readonly<Record<string, string>>
}

/** One line of `qvm-prefs VM`: `isDefault` is Qubes' `D` column. */
export interface PropertyValue {
  readonly name: string
  readonly value: string
  readonly isDefault: boolean
}

export const ADMIN_CLASS = 'AdminVM'
/** What qvm-create makes; a qubes.xml may hold other classes, read as ordinary qubes. */
export const CREATABLE_CLASSES: readonly string[] = ['AppVM', 'TemplateVM', 'StandaloneVM', 'DispVM']
// qubes.config.max_qid
const MAX_QID = 254
// qubes.config.qubes_ipv6_prefix
const IPV6_PREFIX = 'fd09:24ef:4179:'
const WRITE_ONCE = new Set(['qid', 'name', 'klass'])
const NETWORK_PROPS = new Set(['netvm', 'provides_network', 'ip', 'ip6'])
// properties naming another domain, which keep it from being removed
const VM_REFERENCE_PROPS = new Set(['netvm', 'template', 'default_dispvm', 'management_dispvm', 'guivm', 'audiovm'])
const FEATURE_NAME = /^[a-zA-Z0-9_.-]+$/

export class Registry {
  readonly #file: string
  readonly #doc: QubesXml
  #resolved: Map<string, Domain> | undefined

  constructor(file: string, doc: QubesXml) {
    this.#file = file
    this.#doc = doc
    // dom0 is always there, as in Qubes; a file we write then lists it
    if (!doc.domains.some((entry) => entry.klass === ADMIN_CLASS)) {
      doc.domains.unshift({ klass: ADMIN_CLASS, id: 'domain-0', props: new Map(), features: new Map(), element: undefined })
    }
    this.#checkLoaded()
  }

  /** Every domain, sorted by name. */
  domains(): Domain[] {
    return [...this.#domainMap().values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  get(name: string): Domain | undefined {
    return this.#domainMap().get(name)
  }

  require(name: string): Domain {
    const domain = this.get(name)
    if (domain === undefined) throw new UsageError(`no such domain: '${name}'`)
    return domain
  }

  /** The domains whose netvm in effect is `netvmName`, sorted by name. */
  connectedTo(netvmName: string): Domain[] {
    return this.domains().filter((domain) => domain.netvm === netvmName)
  }

  globalProperty(name: string): string | undefined {
    return this.#doc.globals.get(name)?.value
  }

  /** `qubes-prefs PROP`: the value (empty when unset) of a property Qubes or this qubes.xml knows. */
  requireGlobalProperty(untrustedProp: string): string {
    const prop = untrustedProp.replace(/-/g, '_')
    if (!this.#knowsGlobal(prop)) throw noSuchProperty(prop)
    return this.globalProperty(prop) ?? ''
  }

  #knowsGlobal(prop: string): boolean {
    return QUBES_GLOBAL_PROPERTIES.has(prop) || GLOBAL_PROPERTY_VALUES[prop] !== undefined || this.#doc.globals.has(prop)
  }

  serialise(): string {
    return serialiseQubesXml(this.#doc)
  }

  /** `qvm-prefs VM`: the properties Qubes has for the domain's class and every explicit one, sorted. */
  properties(vmName: string): PropertyValue[] {
    const domain = this.require(vmName)
    const names = new Set([...this.#knownProps(domain), ...Object.keys(domain.props)])
    return [...names].sort().map((name) => this.property(vmName, name))
  }

  /** `qvm-prefs VM PROP`: the value in effect ('' for none). */
  property(vmName: string, untrustedProp: string): PropertyValue {
    const domain = this.require(vmName)
    const name = untrustedProp.replace(/-/g, '_')
    const explicit = domain.props[name]
    const known = this.#knownProps(domain).has(name)
    if (!known && explicit === undefined) throw noSuchProperty(name)
    const value = (() => {
      switch (name) {
        case 'qid': return String(domain.qid)
        case 'name': return domain.name
        case 'klass': return domain.klass
        case 'netvm': return domain.netvm ?? ''
        case 'provides_network': return domain.providesNetwork ? 'True' : 'False'
        case 'ip': return domain.ip ?? ''
        case 'ip6': return domain.ip6 ?? ''
        default: return explicit ?? ''
      }
    })()
    return { name, value, isDefault: known && !WRITE_ONCE.has(name) && explicit === undefined }
  }

  /**
   * qvm-create: a new domain with the lowest free qid; `props` are set as qvm-prefs would, in order.
   * A property that does not validate fails the whole creation.
   */
  create(untrustedName: string, klass = 'AppVM', props: readonly (readonly [string, string])[] = []): Domain {
    const name = validateName(untrustedName)
    if (this.get(name) !== undefined) throw new UsageError(`VM ${name} already exists`)
    if (!CREATABLE_CLASSES.includes(klass)) throw new UsageError(`no such domain class: '${klass}'`)
    const used = new Set(this.domains().map((domain) => domain.qid))
    let qid = 1
    while (used.has(qid)) qid++
    if (qid > MAX_QID) throw new UsageError('Cannot find unused qid!')
    this.#doc.domains.push({
      klass,
      id: `domain-${qid}`,
      props: new Map([
        ['qid', { value: String(qid), viaRef: false }],
        ['name', { value: name, viaRef: false }],
      ]),
      features: new Map(),
      element: undefined,
    })
    this.#changed()
    try {
      for (const [prop, value] of props) this.setProperty(name, prop, value)
    } catch (err) {
      this.#doc.domains.pop()
      this.#changed()
      throw err
    }
    return this.require(name)
  }

  /** qvm-prefs VM PROP VALUE, validated as Qubes does; for netvm '' and 'none' mean none. */
  setProperty(vmName: string, untrustedProp: string, untrustedValue: string): void {
    const domain = this.require(vmName)
    const prop = this.#settableProp(domain, untrustedProp)
    const value = (() => {
      switch (prop) {
        case 'netvm': return this.#checkNetvm(domain, untrustedValue.toLowerCase() === 'none' ? '' : untrustedValue)
        case 'provides_network': {
          const value = parseBool(untrustedValue)
          if (value === 'False') this.#checkNotProvidingTo(domain)
          return value
        }
        case 'ip': return checkIp(untrustedValue)
        case 'ip6': return checkIp6(untrustedValue)
        default: return checkOpaqueValue(prop, untrustedValue)
      }
    })()
    const props = this.#entry(domain.name).props
    props.set(prop, { value, viaRef: props.get(prop)?.viaRef ?? false })
    this.#changed()
  }

  /** qvm-prefs VM --default PROP: back to Qubes' default. */
  resetProperty(vmName: string, untrustedProp: string): void {
    const domain = this.require(vmName)
    const prop = this.#settableProp(domain, untrustedProp)
    if (!this.#knownProps(domain).has(prop) && domain.props[prop] === undefined) throw noSuchProperty(prop)
    if (prop === 'provides_network' && domain.providesNetwork) this.#checkNotProvidingTo(domain)
    if (prop === 'netvm') {
      const fallback = this.#defaultNetvm(domain.name)
      if (fallback !== undefined && this.#upstreamOf(fallback).includes(domain.name)) {
        throw new UsageError('Loops in network are unsupported')
      }
    }
    this.#entry(domain.name).props.delete(prop)
    this.#changed()
  }

  /** Sets a feature (qvm-features VM FEATURE VALUE), or removes it when `value` is undefined. */
  setFeature(vmName: string, feature: string, value: string | undefined): void {
    const domain = this.require(vmName)
    if (!FEATURE_NAME.test(feature)) throw new UsageError(`invalid feature name: '${feature}'`)
    const features = this.#entry(domain.name).features
    if (value === undefined) features.delete(feature)
    else features.set(feature, checkOpaqueValue(feature, value))
    this.#changed()
  }

  /** Sets a global property (qubes-prefs), or resets it when `value` is undefined. */
  setGlobalProperty(untrustedProp: string, untrustedValue: string | undefined): void {
    const prop = untrustedProp.replace(/-/g, '_')
    if (!PROPERTY_NAME.test(prop) || !this.#knowsGlobal(prop)) throw noSuchProperty(prop)
    if (untrustedValue === undefined) {
      this.#doc.globals.delete(prop)
    } else {
      let value = checkOpaqueValue(prop, untrustedValue)
      const allowed = GLOBAL_PROPERTY_VALUES[prop]
      if (allowed !== undefined && !allowed.includes(value)) {
        throw new UsageError(`invalid value for ${prop}: '${value}' (expected ${allowed.join(' or ')})`)
      }
      if (prop === 'default_netvm') {
        value = value.toLowerCase() === 'none' ? '' : value
        if (value !== '' && !this.require(value).providesNetwork) {
          throw new UsageError(`The ${value} qube does not provide network`)
        }
      }
      this.#doc.globals.set(prop, { value, viaRef: this.#doc.globals.get(prop)?.viaRef ?? false })
    }
    this.#changed()
  }

  /** qvm-remove: refused for dom0 and for a domain others still use; all or nothing. */
  remove(vmNames: readonly string[]): void {
    const admin = this.domains().find((domain) => domain.klass === ADMIN_CLASS)
    if (admin !== undefined && vmNames.includes(admin.name)) throw new UsageError(`Domain '${admin.name}' cannot be removed`)
    const removing = new Set(vmNames.map((name) => this.require(name).name))
    for (const name of removing) {
      const users: string[] = []
      for (const other of this.domains()) {
        if (removing.has(other.name)) continue
        for (const prop of VM_REFERENCE_PROPS) {
          const value = prop === 'netvm' ? other.netvm : other.props[prop]
          if (value === name) users.push(`'${other.name}' uses it as ${prop}`)
        }
      }
      for (const [prop, { value }] of this.#doc.globals) {
        if (value === name) users.push(`global property ${prop} is set to it`)
      }
      if (users.length > 0) throw new UsageError(`Domain is in use: '${name}'; details: ${users.join(', ')}`)
    }
    this.#doc.domains = this.#doc.domains.filter((entry) => !removing.has(this.#nameOf(entry)))
    this.#changed()
  }

  #knownProps(domain: Domain): Set<string> {
    return domain.klass === ADMIN_CLASS ? new Set(WRITE_ONCE) : new Set([...WRITE_ONCE, ...NETWORK_PROPS])
  }

  #settableProp(domain: Domain, untrustedProp: string): string {
    const prop = untrustedProp.replace(/-/g, '_')
    if (WRITE_ONCE.has(prop)) throw new UsageError(`property '${prop}' is write-once and already set`)
    if (!PROPERTY_NAME.test(prop) || (domain.klass === ADMIN_CLASS && NETWORK_PROPS.has(prop))) throw noSuchProperty(prop)
    return prop
  }

  // _setter_netvm in qubes/vm/mix/net.py
  #checkNetvm(domain: Domain, value: string): string {
    if (value === '') return value
    const netvm = this.require(value)
    if (!netvm.providesNetwork) throw new UsageError(`The ${value} qube does not provide network`)
    if (netvm.name === domain.name || this.#upstreamOf(netvm.name).includes(domain.name)) {
      throw new UsageError('Loops in network are unsupported')
    }
    return value
  }

  // _setter_provides_network in qubes/vm/mix/net.py
  #checkNotProvidingTo(domain: Domain): void {
    if (this.connectedTo(domain.name).length > 0) {
      throw new UsageError("The qube is still used by other qubes, change theirs 'netvm' first")
    }
  }

  /** `name` and the netvms above it, nearest first. */
  #upstreamOf(name: string): string[] {
    const chain: string[] = []
    for (let at: string | undefined = name; at !== undefined && !chain.includes(at); at = this.get(at)?.netvm) chain.push(at)
    return chain
  }

  #entry(name: string): XmlDomain {
    const entry = this.#doc.domains.find((candidate) => this.#nameOf(candidate) === name)
    if (entry === undefined) throw new UsageError(`no such domain: '${name}'`)
    return entry
  }

  #changed(): void {
    this.#resolved = undefined
  }

  #storeError(entry: XmlDomain, message: string): StoreError {
    return new StoreError(this.#file, `domain '${entry.props.get('name')?.value ?? entry.id ?? '?'}': ${message}`)
  }

  // AdminVM's qid and name have defaults (0, dom0), so Qubes does not write them
  #qidOf(entry: XmlDomain): number {
    const value = entry.props.get('qid')?.value ?? (entry.klass === ADMIN_CLASS ? '0' : undefined)
    const qid = decimal(value)
    if (qid === undefined) throw this.#storeError(entry, `invalid qid '${value ?? ''}'`)
    return qid
  }

  #nameOf(entry: XmlDomain): string {
    return entry.props.get('name')?.value ?? (entry.klass === ADMIN_CLASS ? 'dom0' : '')
  }

  #providesNetwork(entry: XmlDomain): boolean {
    const value = entry.props.get('provides_network')?.value
    return entry.klass !== ADMIN_CLASS && value !== undefined && parseBool(value) === 'True'
  }

  /** What a loaded file must hold for the rest to be sound; a violation names the domain. */
  #checkLoaded(): void {
    const qids = new Set<number>()
    const names = new Set<string>()
    for (const entry of this.#doc.domains) {
      const qid = this.#qidOf(entry)
      const name = this.#nameOf(entry)
      try {
        validateName(name)
        if (qids.has(qid)) throw new UsageError(`qid ${qid} is used twice`)
        if (names.has(name)) throw new UsageError('name is used twice')
        this.#providesNetwork(entry)
        const ip = entry.props.get('ip')?.value
        if (ip !== undefined) checkIp(ip)
        const ip6 = entry.props.get('ip6')?.value
        if (ip6 !== undefined) checkIp6(ip6)
      } catch (err) {
        if (err instanceof UsageError) throw this.#storeError(entry, err.message)
        throw err
      }
      qids.add(qid)
      names.add(name)
    }
    for (const entry of this.#doc.domains) {
      const netvm = entry.props.get('netvm')?.value
      if (netvm === undefined || netvm === '' || entry.klass === ADMIN_CLASS) continue
      const target = this.#doc.domains.find((candidate) => this.#nameOf(candidate) === netvm)
      if (target === undefined) throw this.#storeError(entry, `netvm '${netvm}': no such domain`)
      if (!this.#providesNetwork(target)) {
        throw this.#storeError(entry, `netvm '${netvm}': The ${netvm} qube does not provide network`)
      }
    }
  }

  /** default_netvm, when it names a network-providing domain other than `name` itself. */
  #defaultNetvm(name: string): string | undefined {
    const fallback = this.#doc.globals.get('default_netvm')?.value
    if (fallback === undefined || fallback === '' || fallback === name) return undefined
    const target = this.#doc.domains.find((entry) => this.#nameOf(entry) === fallback)
    return target !== undefined && this.#providesNetwork(target) ? fallback : undefined
  }

  #domainMap(): Map<string, Domain> {
    this.#resolved ??= this.#resolve()
    return this.#resolved
  }

  #resolve(): Map<string, Domain> {
    const entries = [...this.#doc.domains].sort((a, b) => this.#qidOf(a) - this.#qidOf(b))
    const netvmOf = new Map<string, string | undefined>()
    for (const entry of entries) {
      const explicit = entry.props.get('netvm')?.value
      const name = this.#nameOf(entry)
      // an empty netvm property is none; an absent one is default_netvm
      const netvm = explicit === undefined ? this.#defaultNetvm(name) : explicit || undefined
      netvmOf.set(name, entry.klass === ADMIN_CLASS ? undefined : netvm)
    }
    // as Qubes on loading (on_domain_load_netvm_loop_check): in qid order, a domain whose netvm
    // leads back to it loses its netvm
    for (const entry of entries) {
      const name = this.#nameOf(entry)
      const seen = new Set<string>()
      for (let at = netvmOf.get(name); at !== undefined && !seen.has(at); at = netvmOf.get(at)) {
        if (at === name) {
          netvmOf.set(name, undefined)
          break
        }
        seen.add(at)
      }
    }
    const ipv6Enabled = (name: string): boolean => {
      // Qubes' features.check_with_netvm('ipv6'): the domain's feature, else its netvm's, upwards;
      // any non-empty value is on
      const seen = new Set<string>()
      for (let at: string | undefined = name; at !== undefined && !seen.has(at); at = netvmOf.get(at)) {
        const value = entries.find((entry) => this.#nameOf(entry) === at)?.features.get('ipv6')
        if (value !== undefined) return value !== ''
        seen.add(at)
      }
      return false
    }
    const domains = new Map<string, Domain>()
    for (const entry of entries) {
      const name = this.#nameOf(entry)
      const qid = this.#qidOf(entry)
      const netvm = netvmOf.get(name)
      const providesNetwork = this.#providesNetwork(entry)
      const networked = entry.klass !== ADMIN_CLASS && (providesNetwork || netvm !== undefined)
      // a DispVM's address comes from its dispid (Qubes), else from its qid
      const isDisp = entry.klass === 'DispVM'
      const number = isDisp ? (decimal(entry.props.get('dispid')?.value) ?? qid) : qid
      // an explicit address holds even when not networked, as in Qubes; dom0 has none
      const explicitIp = entry.klass === ADMIN_CLASS ? undefined : entry.props.get('ip')?.value
      const explicitIp6 = entry.klass === ADMIN_CLASS ? undefined : entry.props.get('ip6')?.value
      domains.set(name, {
        qid,
        name,
        klass: entry.klass,
        netvm,
        providesNetwork,
        ip: explicitIp ?? (networked ? `${isDisp ? '10.138' : '10.137'}.${(number >> 8) & 0xff}.${number & 0xff}` : undefined),
        ip6:
          explicitIp6 ??
          (networked && ipv6Enabled(name) ? `${IPV6_PREFIX}:${isDisp ? 'a8a' : 'a89'}:${number.toString(16)}` : undefined),
        props: Object.fromEntries([...entry.props].map(([prop, { value }]) => [prop, value])),
        features: Object.fromEntries(entry.features),
      })
    }
    return domains
  }
}
