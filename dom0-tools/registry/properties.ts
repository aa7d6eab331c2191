// Which properties a domain has (Qubes' for its class, plus any set explicitly), their values in
// effect for qvm-prefs, which of them may be set, and which global properties qubes-prefs knows.
import { UsageError } from '../../common/errors.js'
import { ADMIN_CLASS, type Domain, type PropertyValue } from './domain.js'
import type { QubesXml } from './qubes-xml.js'
import { GLOBAL_PROPERTY_VALUES, PROPERTY_NAME, QUBES_GLOBAL_PROPERTIES, noSuchProperty } from './values.js'

const WRITE_ONCE = new Set(['qid', 'name', 'klass'])
const NETWORK_PROPS = new Set(['netvm', 'provides_network', 'ip', 'ip6'])

/** A property name as given on the command line: Qubes reads `-` as `_`. */
export function propertyName(untrustedProp: string): string {
  return untrustedProp.replace(/-/g, '_')
}

export function knownProps(domain: Domain): Set<string> {
  return domain.klass === ADMIN_CLASS ? new Set(WRITE_ONCE) : new Set([...WRITE_ONCE, ...NETWORK_PROPS])
}

export function knowsGlobal(doc: QubesXml, prop: string): boolean {
  return QUBES_GLOBAL_PROPERTIES.has(prop) || GLOBAL_PROPERTY_VALUES[prop] !== undefined || doc.globals.has(prop)
}

/** `qvm-prefs VM PROP`: the value in effect ('' for none). */
export function propertyValue(domain: Domain, untrustedProp: string): PropertyValue {
  const name = propertyName(untrustedProp)
  const explicit = domain.props[name]
  const known = knownProps(domain).has(name)
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

/** The property `untrustedProp` names, if the domain's may be set or reset. */
export function settableProp(domain: Domain, untrustedProp: string): string {
  const prop = propertyName(untrustedProp)
  if (WRITE_ONCE.has(prop)) throw new UsageError(`property '${prop}' is write-once and already set`)
  if (!PROPERTY_NAME.test(prop) || (domain.klass === ADMIN_CLASS && NETWORK_PROPS.has(prop))) throw noSuchProperty(prop)
  return prop
}
