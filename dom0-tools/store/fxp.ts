// fast-xml-parser, loaded as its one-file CommonJS bundle: its ESM entry loads dozens of modules
// and costs ~0.2 s at every command's start, the bundle ~0.01 s. Same classes, same types. Loaded at
// first use, so that a command that reads no XML does not pay even that.
import { createRequire } from 'node:module'
import type * as Fxp from 'fast-xml-parser'

export type { XMLBuilder, XMLParser } from 'fast-xml-parser'

let loaded: typeof Fxp | undefined

export function fxp(): typeof Fxp {
  loaded ??= createRequire(import.meta.url)('fast-xml-parser') as typeof Fxp
  return loaded
}
