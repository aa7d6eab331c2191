// A QubesDB held in a directory ($QUBESDB_DIR) for the lab and the tests. Each entry is a file of
// entries/, named by its encoded path and replaced atomically, so writers in several processes
// never lose one another's entries. After each change the path it fires is appended to events.log
// (O_APPEND, one path a line): what watches follow, in the order the changes were made.
import { appendFileSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { atomicWriteFile } from '../../common/atomic-write.js'

// every path begins with '/', so every entry's name begins with this; temporary files begin with '.'
const ENCODED_ROOT = '%2F'

const fileNameOf = (path: string): string => encodeURIComponent(path)
const pathOf = (fileName: string): string => decodeURIComponent(fileName)

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT'
}

export class QubesDbStore {
  private constructor(private readonly dir: string) {}

  /** The store in `dir`, or undefined when there is none (as when qubesdb-daemon does not run). */
  static open(dir: string | undefined): QubesDbStore | undefined {
    if (!dir) return undefined
    try {
      if (!statSync(dir).isDirectory()) return undefined
    } catch {
      return undefined
    }
    mkdirSync(join(dir, 'entries'), { recursive: true })
    return new QubesDbStore(dir)
  }

  get eventsLog(): string {
    return join(this.dir, 'events.log')
  }

  /** The value (a byte string), or undefined when the entry does not exist. */
  read(path: string): string | undefined {
    try {
      const value = readFileSync(this.fileOf(path)).toString('latin1')
      // the client reads a value as a C string
      const end = value.indexOf('\0')
      return end < 0 ? value : value.slice(0, end)
    } catch (err) {
      if (isMissing(err)) return undefined
      throw err
    }
  }

  /** Creates or replaces an entry; a watch fires even when the value is the same. */
  write(path: string, value: string): void {
    atomicWriteFile(this.fileOf(path), Buffer.from(value, 'latin1'))
    this.fire(path)
  }

  /**
   * Removes an entry, or with a path ending with '/' every entry under it. Fires the path as given,
   * once, when anything was removed; removing nothing is not an error to the client.
   */
  remove(path: string): boolean {
    const doomed = path.endsWith('/') ? this.paths(path) : [path]
    let removed = false
    for (const entry of doomed) {
      try {
        unlinkSync(this.fileOf(entry))
        removed = true
      } catch (err) {
        if (!isMissing(err)) throw err
      }
    }
    if (removed) this.fire(path)
    return removed
  }

  /** Every entry's path that begins with `prefix`, in the daemon's order (strcmp: byte order). */
  paths(prefix: string): string[] {
    return readdirSync(join(this.dir, 'entries'))
      .filter((name) => name.startsWith(ENCODED_ROOT))
      .map(pathOf)
      .filter((path) => path.startsWith(prefix))
      .sort()
  }

  private fileOf(path: string): string {
    return join(this.dir, 'entries', fileNameOf(path))
  }

  // one short write to an O_APPEND file: lines of concurrent writers never interleave
  private fire(path: string): void {
    appendFileSync(this.eventsLog, `${path}\n`, 'latin1')
  }
}
