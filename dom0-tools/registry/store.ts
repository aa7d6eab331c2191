// qubes.xml on disk: read (only a file that does not exist is "none yet", and only for qvm-create)
// and changed under a lock with an atomic replace, so concurrent changes never lose one another.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { atomicWriteFile } from '../../common/atomic-write.js'
import { StoreError } from '../../common/errors.js'
import { readStoreFile } from '../../common/read-file.js'
import { withLock } from '../store/lock.js'
import { parsedQubesXml } from './parse-cache.js'
import { emptyQubesXml, orderedQubesXml, parseQubesXml, qubesXmlOf } from './qubes-xml.js'
import { Registry } from './registry.js'

export function qubesXmlPath(qubesDir: string): string {
  return join(qubesDir, 'qubes.xml')
}

/** Reads qubes.xml text (undefined: no file yet, so only dom0) into a registry. */
export function parseRegistry(file: string, text: string | undefined): Registry {
  return new Registry(file, text === undefined ? emptyQubesXml() : parseQubesXml(file, text))
}

export interface RegistryOptions {
  /** qvm-create alone may start a registry: a missing qubes.xml is then an empty one (dom0 only). */
  create?: boolean
}

/** qubes.xml's text; a missing one is an error unless `create` (a typo in --qubes-dir must not read as "no VMs"). */
function readRegistryText(qubesDir: string, { create = false }: RegistryOptions): string | undefined {
  const file = qubesXmlPath(qubesDir)
  const text = readStoreFile(file)
  if (text !== undefined) return text
  if (!existsSync(qubesDir)) throw new StoreError(qubesDir, 'no such directory (check --qubes-dir or QUBES_DIR)')
  if (create) return undefined
  throw new StoreError(file, 'no such file (check --qubes-dir or QUBES_DIR; qvm-create makes the first VM)')
}

/** qubes.xml's text (undefined: none yet) as a registry, its parse remembered beside it (parse-cache.ts). */
function registryOf(file: string, text: string | undefined): Registry {
  if (text === undefined) return parseRegistry(file, undefined)
  return new Registry(file, qubesXmlOf(file, parsedQubesXml(file, text, (untrusted) => orderedQubesXml(file, untrusted))))
}

export function loadRegistry(qubesDir: string, options: RegistryOptions = {}): Registry {
  return registryOf(qubesXmlPath(qubesDir), readRegistryText(qubesDir, options))
}

/**
 * Reads the registry, lets `change` edit it (it may throw: nothing is written then) and saves it,
 * all under a lock, so concurrent changes never lose one another. Returns what `change` returned.
 */
export async function modifyRegistry<T>(qubesDir: string, change: (registry: Registry) => T, options: RegistryOptions = {}): Promise<T> {
  // checked before the lock is made in it: the qubes dir itself is never created here
  readRegistryText(qubesDir, options)
  return withLock(join(qubesDir, '.qubes.xml.lock'), () => {
    const file = qubesXmlPath(qubesDir)
    const before = readRegistryText(qubesDir, options)
    const registry = registryOf(file, before)
    const result = change(registry)
    const after = registry.serialise()
    if (after !== before) atomicWriteFile(file, after)
    return result
  })
}
