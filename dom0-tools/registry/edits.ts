// The registry's edits with Qubes' checks and messages (qubes/vm/__init__.py, qubes/vm/mix/net.py,
// qubes/app.py): create and remove domains, set or reset a property, a feature, a global property.
// Each changes the parsed qubes.xml in place; Registry (registry.ts) is what callers use.
import { UsageError } from '../../common/errors.js'
import { validateName } from '../../common/qube-name.js'
import { defaultNetvm } from './derive.js'
import { ADMIN_CLASS, CREATABLE_CLASSES, entryNamed, nameOf, type Domain, type DomainQueries } from './domain.js'
import { knownProps, knowsGlobal, propertyName, settableProp } from './properties.js'
import type { QubesXml, XmlDomain } from './qubes-xml.js'
import { GLOBAL_PROPERTY_VALUES, PROPERTY_NAME, checkIp, checkIp6, checkOpaqueValue, noSuchProperty, parseBool } from './values.js'

/** What an edit works on: the document, the queries over it, and a call after each change. */
export interface EditTarget {
  readonly doc: QubesXml
  readonly queries: DomainQueries
  /** drops what was derived from `doc` */
  changed(): void
}

// qubes.config.max_qid
const MAX_QID = 254
// properties naming another domain, which keep it from being removed
const VM_REFERENCE_PROPS = new Set(['netvm', 'template', 'default_dispvm', 'management_dispvm', 'guivm', 'audiovm'])
const FEATURE_NAME = /^[a-zA-Z0-9_.-]+$/

function entryOf(target: EditTarget, name: string): XmlDomain {
  const entry = entryNamed(target.doc.domains, name)
  if (entry === undefined) throw new UsageError(`no such domain: '${name}'`)
  return entry
}

/** `name` and the netvms above it, nearest first. */
function upstreamOf(queries: DomainQueries, name: string): string[] {
  const chain: string[] = []
  for (let at: string | undefined = name; at !== undefined && !chain.includes(at); at = queries.get(at)?.netvm) chain.push(at)
  return chain
}

// _setter_netvm in qubes/vm/mix/net.py
function checkNetvm(queries: DomainQueries, domain: Domain, value: string): string {
  if (value === '') return value
  const netvm = queries.require(value)
  if (!netvm.providesNetwork) throw new UsageError(`The ${value} qube does not provide network`)
  if (netvm.name === domain.name || upstreamOf(queries, netvm.name).includes(domain.name)) {
    throw new UsageError('Loops in network are unsupported')
  }
  return value
}

// _setter_provides_network in qubes/vm/mix/net.py
function checkNotProvidingTo(queries: DomainQueries, domain: Domain): void {
  if (queries.connectedTo(domain.name).length > 0) {
    throw new UsageError("The qube is still used by other qubes, change theirs 'netvm' first")
  }
}

export function create(target: EditTarget, untrustedName: string, klass: string, props: readonly (readonly [string, string])[]): Domain {
  const { queries } = target
  const name = validateName(untrustedName)
  if (queries.get(name) !== undefined) throw new UsageError(`VM ${name} already exists`)
  if (!CREATABLE_CLASSES.includes(klass)) throw new UsageError(`no such domain class: '${klass}'`)
  const used = new Set(queries.domains().map((domain) => domain.qid))
  let qid = 1
  while (used.has(qid)) qid++
  if (qid > MAX_QID) throw new UsageError('Cannot find unused qid!')
  target.doc.domains.push({
    klass,
    id: `domain-${qid}`,
    props: new Map([
      ['qid', { value: String(qid), viaRef: false }],
      ['name', { value: name, viaRef: false }],
    ]),
    features: new Map(),
    element: undefined,
  })
  target.changed()
  try {
    for (const [prop, value] of props) setProperty(target, name, prop, value)
  } catch (err) {
    target.doc.domains.pop()
    target.changed()
    throw err
  }
  return queries.require(name)
}

export function setProperty(target: EditTarget, vmName: string, untrustedProp: string, untrustedValue: string): void {
  const { queries } = target
  const domain = queries.require(vmName)
  const prop = settableProp(domain, untrustedProp)
  const value = (() => {
    switch (prop) {
      case 'netvm': return checkNetvm(queries, domain, untrustedValue.toLowerCase() === 'none' ? '' : untrustedValue)
      case 'provides_network': {
        const value = parseBool(untrustedValue)
        if (value === 'False') checkNotProvidingTo(queries, domain)
        return value
      }
      case 'ip': return checkIp(untrustedValue)
      case 'ip6': return checkIp6(untrustedValue)
      default: return checkOpaqueValue(prop, untrustedValue)
    }
  })()
  const props = entryOf(target, domain.name).props
  props.set(prop, { value, viaRef: props.get(prop)?.viaRef ?? false })
  target.changed()
}

export function resetProperty(target: EditTarget, vmName: string, untrustedProp: string): void {
  const { queries } = target
  const domain = queries.require(vmName)
  const prop = settableProp(domain, untrustedProp)
  if (!knownProps(domain).has(prop) && domain.props[prop] === undefined) throw noSuchProperty(prop)
  if (prop === 'provides_network' && domain.providesNetwork) checkNotProvidingTo(queries, domain)
  if (prop === 'netvm') {
    const fallback = defaultNetvm(target.doc, domain.name)
    if (fallback !== undefined && upstreamOf(queries, fallback).includes(domain.name)) {
      throw new UsageError('Loops in network are unsupported')
    }
  }
  entryOf(target, domain.name).props.delete(prop)
  target.changed()
}

export function setFeature(target: EditTarget, vmName: string, feature: string, value: string | undefined): void {
  const domain = target.queries.require(vmName)
  if (!FEATURE_NAME.test(feature)) throw new UsageError(`invalid feature name: '${feature}'`)
  const features = entryOf(target, domain.name).features
  if (value === undefined) features.delete(feature)
  else features.set(feature, checkOpaqueValue(feature, value))
  target.changed()
}

/** A global property's value to store, checked against what it may take. */
function checkGlobalValue(queries: DomainQueries, prop: string, untrustedValue: string): string {
  const value = checkOpaqueValue(prop, untrustedValue)
  const allowed = GLOBAL_PROPERTY_VALUES[prop]
  if (allowed !== undefined && !allowed.includes(value)) {
    throw new UsageError(`invalid value for ${prop}: '${value}' (expected ${allowed.join(' or ')})`)
  }
  if (prop !== 'default_netvm') return value
  const netvm = value.toLowerCase() === 'none' ? '' : value
  if (netvm !== '' && !queries.require(netvm).providesNetwork) {
    throw new UsageError(`The ${netvm} qube does not provide network`)
  }
  return netvm
}

export function setGlobalProperty(target: EditTarget, untrustedProp: string, untrustedValue: string | undefined): void {
  const { doc } = target
  const prop = propertyName(untrustedProp)
  if (!PROPERTY_NAME.test(prop) || !knowsGlobal(doc, prop)) throw noSuchProperty(prop)
  if (untrustedValue === undefined) {
    doc.globals.delete(prop)
  } else {
    const value = checkGlobalValue(target.queries, prop, untrustedValue)
    doc.globals.set(prop, { value, viaRef: doc.globals.get(prop)?.viaRef ?? false })
  }
  target.changed()
}

/** Why `name` may not be removed while the domains outside `removing` stay: one phrase per use. */
function usesOf(target: EditTarget, name: string, removing: ReadonlySet<string>): string[] {
  const users: string[] = []
  for (const other of target.queries.domains()) {
    if (removing.has(other.name)) continue
    for (const prop of VM_REFERENCE_PROPS) {
      const value = prop === 'netvm' ? other.netvm : other.props[prop]
      if (value === name) users.push(`'${other.name}' uses it as ${prop}`)
    }
  }
  for (const [prop, { value }] of target.doc.globals) {
    if (value === name) users.push(`global property ${prop} is set to it`)
  }
  return users
}

export function remove(target: EditTarget, vmNames: readonly string[]): void {
  const { queries } = target
  const admin = queries.domains().find((domain) => domain.klass === ADMIN_CLASS)
  if (admin !== undefined && vmNames.includes(admin.name)) throw new UsageError(`Domain '${admin.name}' cannot be removed`)
  const removing = new Set(vmNames.map((name) => queries.require(name).name))
  for (const name of removing) {
    const users = usesOf(target, name, removing)
    if (users.length > 0) throw new UsageError(`Domain is in use: '${name}'; details: ${users.join(', ')}`)
  }
  target.doc.domains = target.doc.domains.filter((entry) => !removing.has(nameOf(entry)))
  target.changed()
}
