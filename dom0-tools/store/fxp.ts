// fast-xml-parser, loaded as its one-file CommonJS bundle: its ESM entry loads dozens of modules
// and costs ~0.2 s at every command's start, the bundle ~0.01 s. Same classes, same types.
import { createRequire } from 'node:module'
import type * as Fxp from 'fast-xml-parser'

const fxp = createRequire(import.meta.url)('fast-xml-parser') as typeof Fxp

export const { XMLBuilder, XMLParser, XMLValidator } = fxp
