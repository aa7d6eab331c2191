// The commands of qubesdb-cmd over the directory store, with the real tool's output, error lines
// and exit codes (qubes-core-qubesdb client/qubesdb-cmd.c).
import { formatValue } from './output.js'
import { isEntryPath, isValidPath, isValidValue } from './path.js'
import { EXIT_FAILED, EXIT_NO_ENTRY, type Session } from './session.js'
import type { QubesDbStore } from './store.js'
import { waitForEntry } from './watch.js'

/** read PATH...: each value; a missing one is reported (or --default printed) and the rest still read. */
export async function read(session: Session, paths: readonly string[]): Promise<number> {
  const { options, store } = session
  if (options.defaultValue !== undefined && paths.length !== 1) {
    session.say('--default only valid with exactly 1 path to read')
    return EXIT_FAILED
  }
  let failed = false
  let missing = false
  for (const path of paths) {
    let value = isValidPath(path) ? store.read(path) : undefined
    let absent = value === undefined && isValidPath(path)
    if (absent && options.wait) {
      value = await waitForEntry(store, path)
      absent = false
    } else if (absent && options.defaultValue !== undefined) value = options.defaultValue
    if (value !== undefined) {
      if (options.fullPath) session.out.print(`${path} = `)
      session.out.print(formatValue(value, options.raw))
    } else {
      session.complain(`Failed to read ${path}`)
      if (absent) missing = true
      else failed = true
    }
    // as the real one, -x removes whatever the path names: '/a/' removes all under /a/
    if (options.removeAfterRead && !remove(store, path)) failed = true
  }
  return failed ? EXIT_FAILED : missing ? EXIT_NO_ENTRY : 0
}

/** multiread PATH...: `SUBPATH = VALUE` for every entry whose path begins with PATH (no '/' needed). */
export function multiread(session: Session, prefixes: readonly string[]): number {
  const { options, store } = session
  let failed = false
  for (const prefix of prefixes) {
    if (!isValidPath(prefix)) {
      session.complain(`Failed to read ${prefix}`)
      failed = true
      continue
    }
    const cut = options.fullPath ? 0 : prefix.length
    for (const path of store.paths(prefix)) {
      const value = store.read(path)
      // removed since the listing: as if read a moment earlier or later, absent
      if (value === undefined) continue
      session.out.print(`${path.slice(cut)} = ${formatValue(value, options.raw)}`)
    }
  }
  return failed ? EXIT_FAILED : 0
}

/** list PATH: every path that begins with PATH, one a line. */
export function list(session: Session, prefixes: readonly string[]): number {
  const [prefix] = prefixes
  if (prefix === undefined || prefixes.length !== 1) {
    session.say('LIST command accept only one path')
    return EXIT_FAILED
  }
  if (!isValidPath(prefix)) {
    session.complain('Failed to get entries list')
    return EXIT_FAILED
  }
  const cut = session.options.fullPath ? 0 : prefix.length
  for (const path of session.store.paths(prefix)) session.out.print(`${path.slice(cut)}\n`)
  return 0
}

/** write PATH VALUE...: each pair in turn, a refused one reported and the rest still written. */
export function write(session: Session, words: readonly string[]): number {
  if (words.length % 2 !== 0) {
    session.say('Invalid number of parameters')
    return EXIT_FAILED
  }
  let failed = false
  for (let i = 0; i < words.length; i += 2) {
    const path = words[i] as string
    const value = words[i + 1] as string
    if (isEntryPath(path) && isValidValue(value)) {
      session.store.write(path, value)
    } else {
      session.complain(`Failed to write ${path}`)
      failed = true
    }
  }
  return failed ? EXIT_FAILED : 0
}

/** rm PATH...: a path ending with '/' removes everything under it; removing nothing is no error. */
export function rm(session: Session, paths: readonly string[]): number {
  let failed = false
  for (const path of paths) {
    if (!remove(session.store, path)) {
      session.complain(`Failed to remove ${path}`)
      failed = true
    }
  }
  return failed ? EXIT_FAILED : 0
}

/** False only for a path the daemon refuses. */
function remove(store: QubesDbStore, path: string): boolean {
  if (!isValidPath(path)) return false
  store.remove(path)
  return true
}
