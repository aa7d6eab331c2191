// Reading a store file (firewall.xml, qubes.xml): only "does not exist" means "none yet"; any other
// failure is an error naming the path, never a default (an unreadable firewall.xml must not read as
// accept-all). Only regular files of bounded size are read, and opening never blocks (a FIFO).
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs'
import { StoreError } from './errors.js'

/** Far above any real qubes.xml or firewall.xml (Qubes' own stay in the kilobytes to low megabytes). */
export const STORE_FILE_MAX_BYTES = 64 << 20

const reasons: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent is not a directory',
  ELOOP: 'too many symbolic links',
  EIO: 'input/output error',
}

function describe(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  return (code !== undefined && reasons[code]) || (code ?? (err instanceof Error ? err.message : String(err)))
}

/** The file's text, or undefined when it does not exist; StoreError for anything else. */
export function readStoreFile(path: string, maxBytes = STORE_FILE_MAX_BYTES): string | undefined {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new StoreError(path, `cannot read: ${describe(err)}`)
  }
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile()) throw new StoreError(path, 'cannot read: not a regular file')
    if (stat.size > maxBytes) throw new StoreError(path, `cannot read: ${stat.size} bytes, more than the limit of ${maxBytes}`)
    const buffer = Buffer.alloc(stat.size)
    let filled = 0
    while (filled < buffer.length) {
      const got = readSync(fd, buffer, filled, buffer.length - filled, filled)
      if (got === 0) break
      filled += got
    }
    return buffer.subarray(0, filled).toString('utf8')
  } catch (err) {
    if (err instanceof StoreError) throw err
    throw new StoreError(path, `cannot read: ${describe(err)}`)
  } finally {
    closeSync(fd)
  }
}
