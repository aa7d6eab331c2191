// qubes.xml in Qubes' own layout, read and written. We model only the global properties and each
// domain's class, properties and features; everything else (labels, pools, volume-config, devices,
// tags, comments, unknown attributes) is kept as parsed and written back unchanged, so a real
// Qubes qubes.xml survives our edits.
import { buildOrderedXml, parseOrderedXml } from '../store/xml.js'
import { StoreError } from '../../common/errors.js'

/** A property's value; `viaRef` ones are stored as `<property name=".." ref=".."/>` (Qubes' labels). */
export interface XmlProperty {
  value: string
  viaRef: boolean
}

export interface XmlDomain {
  klass: string
  /** the `id` attribute, `domain-<qid>` */
  id: string | undefined
  /** in file order; a new property is appended */
  props: Map<string, XmlProperty>
  features: Map<string, string>
  /** the parsed `<domain>` element, so that what we do not model is written back */
  element: OrderedElement | undefined
}

export interface QubesXml {
  globals: Map<string, XmlProperty>
  domains: XmlDomain[]
  /** the parsed document, kept for everything outside the model */
  document: OrderedNode[] | undefined
}

// fast-xml-parser's order-preserving form: each node is `{ tag: children, ':@': attributes }`,
// a text node is `{ '#text': value }`
type OrderedNode = Record<string, unknown>
type OrderedElement = OrderedNode

const ATTRS = ':@'

function tagOf(node: OrderedNode): string | undefined {
  return Object.keys(node).find((key) => key !== ATTRS)
}

function childrenOf(node: OrderedNode): OrderedNode[] {
  const tag = tagOf(node)
  const children = tag === undefined ? undefined : node[tag]
  return Array.isArray(children) ? (children as OrderedNode[]) : []
}

function elementsNamed(node: OrderedNode, name: string): OrderedElement[] {
  return childrenOf(node).filter((child) => tagOf(child) === name)
}

function attrOf(node: OrderedNode, name: string): string | undefined {
  const attrs = node[ATTRS]
  if (typeof attrs !== 'object' || attrs === null) return undefined
  const value = (attrs as Record<string, unknown>)[`@_${name}`]
  return typeof value === 'string' ? value : undefined
}

function textOf(node: OrderedNode): string {
  return childrenOf(node)
    .map((child) => child['#text'])
    .filter((text) => text !== undefined)
    .map(String)
    .join('')
}

function element(tag: string, attrs: Record<string, string>, children: OrderedNode[] = []): OrderedElement {
  const node: OrderedElement = { [tag]: children }
  if (Object.keys(attrs).length > 0) {
    node[ATTRS] = Object.fromEntries(Object.entries(attrs).map(([name, value]) => [`@_${name}`, value]))
  }
  return node
}

function setAttr(node: OrderedElement, name: string, value: string): void {
  const attrs = (node[ATTRS] ?? {}) as Record<string, string>
  node[ATTRS] = { ...attrs, [`@_${name}`]: value }
}

function parseProperties(file: string, where: string, container: OrderedElement | undefined): Map<string, XmlProperty> {
  const props = new Map<string, XmlProperty>()
  for (const property of container === undefined ? [] : elementsNamed(container, 'property')) {
    const name = attrOf(property, 'name')
    if (name === undefined) throw new StoreError(file, `${where}: <property> without a name`)
    const ref = attrOf(property, 'ref')
    // as Qubes' load_properties: the ref, else the text
    props.set(name, ref !== undefined ? { value: ref, viaRef: true } : { value: textOf(property), viaRef: false })
  }
  return props
}

function parseFeatures(file: string, where: string, container: OrderedElement | undefined): Map<string, string> {
  const features = new Map<string, string>()
  for (const feature of container === undefined ? [] : elementsNamed(container, 'feature')) {
    const name = attrOf(feature, 'name')
    if (name === undefined) throw new StoreError(file, `${where}: <feature> without a name`)
    features.set(name, textOf(feature))
  }
  return features
}

function rootOf(document: OrderedNode[]): OrderedElement | undefined {
  return document.find((node) => {
    const tag = tagOf(node)
    return tag !== undefined && !tag.startsWith('?') && !tag.startsWith('#')
  })
}

export function emptyQubesXml(): QubesXml {
  return { globals: new Map(), domains: [], document: undefined }
}

/** qubes.xml's text in document order (store/xml.ts), or a StoreError naming the file and why it cannot be read. */
export function orderedQubesXml(file: string, untrustedText: string): OrderedNode[] {
  const document = parseOrderedXml(untrustedText)
  if (typeof document === 'string') throw new StoreError(file, document)
  return document
}

export function parseQubesXml(file: string, untrustedText: string): QubesXml {
  return qubesXmlOf(file, orderedQubesXml(file, untrustedText))
}

/** The model of a document that orderedQubesXml() gave. */
export function qubesXmlOf(file: string, document: OrderedNode[]): QubesXml {
  const root = rootOf(document)
  if (root === undefined || tagOf(root) !== 'qubes') {
    throw new StoreError(file, `root element must be <qubes>, not <${root === undefined ? '' : tagOf(root)}>`)
  }
  const globals = parseProperties(file, 'global properties', elementsNamed(root, 'properties')[0])
  const domainsElement = elementsNamed(root, 'domains')[0]
  const domains = (domainsElement === undefined ? [] : elementsNamed(domainsElement, 'domain')).map((domain, index): XmlDomain => {
    const id = attrOf(domain, 'id')
    const where = `domain ${id ?? `#${index + 1}`}`
    const klass = attrOf(domain, 'class')
    if (klass === undefined || klass === '') throw new StoreError(file, `${where}: no class attribute`)
    return {
      klass,
      id,
      props: parseProperties(file, where, elementsNamed(domain, 'properties')[0]),
      features: parseFeatures(file, where, elementsNamed(domain, 'features')[0]),
      element: domain,
    }
  })
  return { globals, domains, document }
}

function propertiesElement(props: Map<string, XmlProperty>): OrderedElement {
  return element(
    'properties',
    {},
    [...props].map(([name, { value, viaRef }]) =>
      viaRef ? element('property', { name, ref: value }) : element('property', { name }, value === '' ? [] : [{ '#text': value }]),
    ),
  )
}

function featuresElement(features: Map<string, string>): OrderedElement {
  return element(
    'features',
    {},
    [...features].map(([name, value]) => element('feature', { name }, value === '' ? [] : [{ '#text': value }])),
  )
}

/** Replaces the child with `child`'s tag in place, or inserts `child` at `insertAt` when there is none. */
function putChild(parent: OrderedElement, child: OrderedElement, insertAt: (children: OrderedNode[]) => number): void {
  const children = childrenOf(parent)
  const tag = tagOf(child)
  const at = children.findIndex((node) => tagOf(node) === tag)
  if (at >= 0) children[at] = child
  else children.splice(insertAt(children), 0, child)
}

function domainElement(domain: XmlDomain): OrderedElement {
  const node = domain.element === undefined ? element('domain', {}) : structuredClone(domain.element)
  setAttr(node, 'class', domain.klass)
  if (domain.id !== undefined) setAttr(node, 'id', domain.id)
  // Qubes writes volume-config first, then properties, then features
  putChild(node, propertiesElement(domain.props), (children) => {
    const firstOther = children.findIndex((c) => tagOf(c) !== 'volume-config')
    return firstOther >= 0 ? firstOther : children.length
  })
  putChild(node, featuresElement(domain.features), (children) => children.findIndex((c) => tagOf(c) === 'properties') + 1)
  return node
}

export function serialiseQubesXml(doc: QubesXml): string {
  const document: OrderedNode[] = doc.document === undefined
    ? [element('?xml', { version: '1.0', encoding: 'UTF-8' }, [{ '#text': '' }]), element('qubes', {})]
    : structuredClone(doc.document)
  const root = rootOf(document)!
  const domains = element('domains', {}, doc.domains.map(domainElement))
  // Qubes' order: labels, pools, properties, domains
  putChild(root, propertiesElement(doc.globals), (children) => {
    const at = children.findIndex((c) => tagOf(c) === 'domains')
    return at >= 0 ? at : children.length
  })
  putChild(root, domains, (children) => children.length)
  return `${buildOrderedXml(document).trim()}\n`
}
