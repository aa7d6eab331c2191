// What an entity reference in Qubes' XML may mean: XML's five named entities and character
// references, nothing else. A DTD's entities (a billion laughs, or text that is not in the file)
// and HTML's names (&nbsp;) are refused, as lxml refuses a name no DTD declares.
import type { EntityDecoderOptions } from 'fast-xml-parser'
import { shown } from '../../common/untrusted-text.js'

/** Why a document's entities cannot be read; parseXml() turns it into the file's error. */
export class XmlEntityError extends Error {
  override name = 'XmlEntityError'
}

const NAMED = new Map([['amp', '&'], ['lt', '<'], ['gt', '>'], ['quot', '"'], ['apos', "'"]])
const REFERENCE = /&(#x[0-9A-Fa-f]+|#[0-9]+|[^&;\s]*);/g

// XML 1.0's Char production: no C0 control but tab, newline and carriage return, no surrogate, no U+FFFE/FFFF
function isXmlChar(code: number): boolean {
  return code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff)
}

function decodeReference(reference: string, name: string): string {
  if (name.startsWith('#')) {
    const code = name.startsWith('#x') ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10)
    if (!isXmlChar(code)) throw new XmlEntityError(`character reference '${shown(reference)}' is not an XML character`)
    return String.fromCodePoint(code)
  }
  const text = NAMED.get(name)
  if (text === undefined) throw new XmlEntityError(`undefined entity '${shown(reference)}'`)
  return text
}

/** fast-xml-parser's entity decoder, stateless, so one serves every parse. */
export const XML_ENTITIES: EntityDecoderOptions = {
  setExternalEntities: () => {},
  addInputEntities: (entities) => {
    if (Object.keys(entities).length > 0) throw new XmlEntityError("a DTD's entity declarations are not read (Qubes' files have none)")
  },
  reset: () => {},
  setXmlVersion: () => {},
  decode: (text) => (text.includes('&') ? text.replace(REFERENCE, decodeReference) : text),
}
