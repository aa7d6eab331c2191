// fast-xml-parser set up once for Qubes' XML files (firewall.xml, qubes.xml): strings stay strings,
// attributes are kept, entities are XML's own only, and a document that cannot be read is a reason,
// never a thrown library error.
import { shown, UNTRUSTED_KEY_LIMIT } from '../../common/untrusted-text.js'
import { fxp, type XMLBuilder, type XMLParser } from './fxp.js'
import { XML_ENTITIES, XmlEntityError } from './xml-entities.js'

const REPEATED = new Set(['rule', 'property', 'domain', 'feature', 'forward'])

const SAFE_OPTIONS = {
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
  entityDecoder: XML_ENTITIES,
} as const

// made at first use: a command that reads no XML (--help) does not load the library
let parsers: { tree: InstanceType<typeof XMLParser>; ordered: InstanceType<typeof XMLParser>; builder: InstanceType<typeof XMLBuilder> } | undefined
// qubes.xml is written back with what we do not model, so in document order, comments included
// (registry/parse-cache.ts keeps documents of this form: a change here bumps its FORMAT)
const ORDERED_OPTIONS = { ...SAFE_OPTIONS, preserveOrder: true, trimValues: true, commentPropName: '#comment' } as const

function xml(): NonNullable<typeof parsers> {
  if (parsers === undefined) {
    const { XMLBuilder, XMLParser } = fxp()
    parsers = {
      // firewall.xml is read only: a tree, a comment keeping its leading and trailing spaces as Qubes (lxml) keeps them
      tree: new XMLParser({ ...SAFE_OPTIONS, trimValues: false, isArray: (name) => REPEATED.has(name) }),
      ordered: new XMLParser(ORDERED_OPTIONS),
      builder: new XMLBuilder({ ...ORDERED_OPTIONS, format: true, indentBy: '  ', suppressEmptyNode: true }),
    }
  }
  return parsers
}

export type XmlNode = Record<string, unknown>

function parsed<T>(untrustedText: string, parser: InstanceType<typeof XMLParser>): T | string {
  const valid = fxp().XMLValidator.validate(untrustedText)
  if (valid !== true) return `not well-formed XML (line ${valid.err.line}: ${shown(valid.err.msg, UNTRUSTED_KEY_LIMIT)})`
  try {
    return parser.parse(untrustedText) as T
  } catch (err) {
    if (err instanceof XmlEntityError) return err.message
    return `not well-formed XML (${shown((err as Error).message, UNTRUSTED_KEY_LIMIT)})`
  }
}

/** The document as a tree (`isArray` for the elements that may repeat), or why it cannot be read. */
export function parseXml(untrustedText: string): XmlNode | string {
  return parsed<XmlNode>(untrustedText, xml().tree)
}

/** The document in order, each node `{ tag: children, ':@': attributes }` (a text `{ '#text': value }`), or why it cannot be read. */
export function parseOrderedXml(untrustedText: string): XmlNode[] | string {
  return parsed<XmlNode[]>(untrustedText, xml().ordered)
}

export function buildOrderedXml(document: readonly XmlNode[]): string {
  return xml().builder.build(document) as string
}

export function childNodes(node: unknown, name: string): XmlNode[] {
  if (typeof node !== 'object' || node === null) return []
  const child = (node as XmlNode)[name]
  if (child === undefined) return []
  const list = Array.isArray(child) ? child : [child]
  // an empty element parses as '': treat it as a node without content
  return list.map((c) => (typeof c === 'object' && c !== null ? (c as XmlNode) : {}))
}

export function attr(node: XmlNode, name: string): string | undefined {
  const value = node[`@_${name}`]
  return typeof value === 'string' ? value : undefined
}

export function text(node: XmlNode): string {
  const value = node['#text']
  return typeof value === 'string' ? value : ''
}

export function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}
