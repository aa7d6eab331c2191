// fast-xml-parser set up for Qubes' XML files: strings stay strings, attributes are kept,
// and elements that may repeat are always arrays.
import { XMLParser, XMLValidator } from './fxp.js'

const REPEATED = new Set(['rule', 'property', 'domain', 'feature', 'forward'])

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  // a comment keeps its leading and trailing spaces, as Qubes (lxml) keeps them
  trimValues: false,
  processEntities: true,
  isArray: (name) => REPEATED.has(name),
})

export type XmlNode = Record<string, unknown>

/** Parses XML text, or returns why it is not well-formed. */
export function parseXml(untrustedText: string): XmlNode | string {
  const valid = XMLValidator.validate(untrustedText)
  if (valid !== true) return `not well-formed XML (line ${valid.err.line}: ${valid.err.msg})`
  return parser.parse(untrustedText) as XmlNode
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
