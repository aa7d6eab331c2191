// The dom0 registry: the domains of a qubes.xml, its queries, and its edits, with Qubes' defaults
// and messages. The class callers use; the parts: domain.ts (the Domain model, one entry's own
// fields), derive.ts (each domain's netvm and addresses in effect), integrity.ts (what a loaded
// file must hold), properties.ts (qvm-prefs' view), edits.ts (changes with Qubes' checks),
// values.ts (value rules). On disk: store.ts (changes go through modifyRegistry()).
import { UsageError } from '../../common/errors.js'
import { deriveDomains } from './derive.js'
import { ADMIN_CLASS, type Domain, type PropertyValue } from './domain.js'
import * as edit from './edits.js'
import { checkLoaded } from './integrity.js'
import { knownProps, knowsGlobal, propertyName, propertyValue } from './properties.js'
import { serialiseQubesXml, type QubesXml } from './qubes-xml.js'
import { noSuchProperty } from './values.js'

export { ADMIN_CLASS, CREATABLE_CLASSES, type Domain, type PropertyValue } from './domain.js'

export class Registry {
  readonly #file: string
  readonly #doc: QubesXml
  #resolved: Map<string, Domain> | undefined
  readonly #target: edit.EditTarget

  constructor(file: string, doc: QubesXml) {
    this.#file = file
    this.#doc = doc
    // dom0 is always there, as in Qubes; a file we write then lists it
    if (!doc.domains.some((entry) => entry.klass === ADMIN_CLASS)) {
      doc.domains.unshift({ klass: ADMIN_CLASS, id: 'domain-0', props: new Map(), features: new Map(), element: undefined })
    }
    checkLoaded(file, doc)
    this.#target = {
      doc,
      queries: this,
      changed: () => {
        this.#resolved = undefined
      },
    }
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
    const prop = propertyName(untrustedProp)
    if (!knowsGlobal(this.#doc, prop)) throw noSuchProperty(prop)
    return this.globalProperty(prop) ?? ''
  }

  serialise(): string {
    return serialiseQubesXml(this.#doc)
  }

  /** `qvm-prefs VM`: the properties Qubes has for the domain's class and every explicit one, sorted. */
  properties(vmName: string): PropertyValue[] {
    const domain = this.require(vmName)
    const names = new Set([...knownProps(domain), ...Object.keys(domain.props)])
    return [...names].sort().map((name) => this.property(vmName, name))
  }

  /** `qvm-prefs VM PROP`: the value in effect ('' for none). */
  property(vmName: string, untrustedProp: string): PropertyValue {
    return propertyValue(this.require(vmName), untrustedProp)
  }

  /**
   * qvm-create: a new domain with the lowest free qid; `props` are set as qvm-prefs would, in order.
   * A property that does not validate fails the whole creation.
   */
  create(untrustedName: string, klass = 'AppVM', props: readonly (readonly [string, string])[] = []): Domain {
    return edit.create(this.#target, untrustedName, klass, props)
  }

  /** qvm-prefs VM PROP VALUE, validated as Qubes does; for netvm '' and 'none' mean none. */
  setProperty(vmName: string, untrustedProp: string, untrustedValue: string): void {
    edit.setProperty(this.#target, vmName, untrustedProp, untrustedValue)
  }

  /** qvm-prefs VM --default PROP: back to Qubes' default. */
  resetProperty(vmName: string, untrustedProp: string): void {
    edit.resetProperty(this.#target, vmName, untrustedProp)
  }

  /** Sets a feature (qvm-features VM FEATURE VALUE), or removes it when `value` is undefined. */
  setFeature(vmName: string, feature: string, value: string | undefined): void {
    edit.setFeature(this.#target, vmName, feature, value)
  }

  /** Sets a global property (qubes-prefs), or resets it when `value` is undefined. */
  setGlobalProperty(untrustedProp: string, untrustedValue: string | undefined): void {
    edit.setGlobalProperty(this.#target, untrustedProp, untrustedValue)
  }

  /** qvm-remove: refused for dom0 and for a domain others still use; all or nothing. */
  remove(vmNames: readonly string[]): void {
    edit.remove(this.#target, vmNames)
  }

  #domainMap(): Map<string, Domain> {
    this.#resolved ??= deriveDomains(this.#file, this.#doc)
    return this.#resolved
  }
}
