// qubes.xml's parsed document, kept beside it while its text stays the same: parsing it is most of
// a dom0 command's own time (fast-xml-parser, ~50 ms for 250 domains, where the rest of `qvm-firewall
// VM add` takes ~100). The cache holds the very text it was parsed from, and counts only when that
// text equals qubes.xml's, byte for byte, and it was written by this version of the tools: an edit
// by anyone, a half-written or foreign cache, or an upgrade all mean a fresh parse. A cache that
// cannot be read or written is no cache, never an error: qubes.xml alone is the registry.
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { packageVersion } from '../../common/cli/version.js'
import type { XmlNode } from '../store/xml.js'

const CACHE_NAME = '.qubes.xml.parsed.json'
// bump with anything that changes the parsed form (store/xml.ts's ORDERED_OPTIONS)
const FORMAT = 'ordered-xml 1'

interface Cache {
  format: string
  text: string
  document: XmlNode[]
}

const formatOfThisVersion = (): string => `${FORMAT}, qubes-firewall ${packageVersion()}`

function cached(file: string, text: string): XmlNode[] | undefined {
  try {
    const cache = JSON.parse(readFileSync(join(dirname(file), CACHE_NAME), 'utf8')) as Partial<Cache>
    return cache.format === formatOfThisVersion() && cache.text === text && Array.isArray(cache.document) ? cache.document : undefined
  } catch {
    return undefined
  }
}

function remember(file: string, text: string, document: XmlNode[]): void {
  const cacheFile = join(dirname(file), CACHE_NAME)
  const temp = `${cacheFile}.${process.pid}.tmp`
  try {
    // exactly as readable as qubes.xml itself (it holds the same text); no fsync: a cache lost or cut
    // short by a crash is only a miss
    rmSync(temp, { force: true })
    writeFileSync(temp, JSON.stringify({ format: formatOfThisVersion(), text, document } satisfies Cache), { mode: statSync(file).mode & 0o666, flag: 'wx' })
    renameSync(temp, cacheFile)
  } catch {
    rmSync(temp, { force: true })
  }
}

/** qubes.xml's document: the cached one when it was parsed from this very text, else `parse(text)` (remembered). */
export function parsedQubesXml(file: string, text: string, parse: (text: string) => XmlNode[]): XmlNode[] {
  const hit = cached(file, text)
  if (hit !== undefined) return hit
  const document = parse(text)
  remember(file, text, document)
  return document
}
