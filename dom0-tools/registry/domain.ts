// A domain as the registry shows it (Domain, PropertyValue), the classes Qubes knows, what edits
// may ask of the registry (DomainQueries), and the fields one qubes.xml <domain> entry holds itself.
import { StoreError } from '../../common/errors.js'
import type { XmlDomain } from './qubes-xml.js'
import { decimal, parseBool } from './values.js'

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

/** The registry's queries, as the edits use them. */
export interface DomainQueries {
  domains(): Domain[]
  get(name: string): Domain | undefined
  require(name: string): Domain
  connectedTo(netvmName: string): Domain[]
}

export const ADMIN_CLASS = 'AdminVM'
/** What qvm-create makes; a qubes.xml may hold other classes, read as ordinary qubes. */
export const CREATABLE_CLASSES: readonly string[] = ['AppVM', 'TemplateVM', 'StandaloneVM', 'DispVM']

export function entryStoreError(file: string, entry: XmlDomain, message: string): StoreError {
  return new StoreError(file, `domain '${entry.props.get('name')?.value ?? entry.id ?? '?'}': ${message}`)
}

// AdminVM's qid and name have defaults (0, dom0), so Qubes does not write them
export function qidOf(file: string, entry: XmlDomain): number {
  const value = entry.props.get('qid')?.value ?? (entry.klass === ADMIN_CLASS ? '0' : undefined)
  const qid = decimal(value)
  if (qid === undefined) throw entryStoreError(file, entry, `invalid qid '${value ?? ''}'`)
  return qid
}

export function nameOf(entry: XmlDomain): string {
  return entry.props.get('name')?.value ?? (entry.klass === ADMIN_CLASS ? 'dom0' : '')
}

export function providesNetworkOf(entry: XmlDomain): boolean {
  const value = entry.props.get('provides_network')?.value
  return entry.klass !== ADMIN_CLASS && value !== undefined && parseBool(value) === 'True'
}

export function entryNamed(domains: readonly XmlDomain[], name: string): XmlDomain | undefined {
  return domains.find((entry) => nameOf(entry) === name)
}
