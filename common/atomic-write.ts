// Replace a file so that readers see the old or the new content, never a half-written one.
import { closeSync, fchmodSync, fchownSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs'
import { basename, dirname, join } from 'node:path'

function statIfPresent(path: string): Stats | undefined {
  try {
    return statSync(path)
  } catch {
    return undefined
  }
}

/**
 * The replacement keeps the replaced file's mode and owner (an edit never widens or re-owns it); a new
 * file gets `mode` and, written by root, the directory's group (Qubes' files: root:qubes 0664).
 */
export function atomicWriteFile(path: string, content: string | Buffer, mode = 0o664): void {
  const dir = dirname(path)
  const temp = join(dir, `.${basename(path)}.${process.pid}.${process.hrtime.bigint()}.tmp`)
  const existing = statIfPresent(path)
  const fd = openSync(temp, 'wx', 0o600)
  try {
    fchmodSync(fd, existing ? existing.mode & 0o7777 : mode)
    if (process.getuid?.() === 0) {
      const owner = existing ?? { uid: 0, gid: statSync(dir).gid }
      fchownSync(fd, owner.uid, owner.gid)
    }
    writeSync(fd, typeof content === 'string' ? Buffer.from(content) : content)
    fsyncSync(fd)
  } catch (err) {
    closeSync(fd)
    rmSync(temp, { force: true })
    throw err
  }
  closeSync(fd)
  try {
    renameSync(temp, path)
  } catch (err) {
    rmSync(temp, { force: true })
    throw err
  }
  // the rename itself is durable only once the directory is synced
  const dirFd = openSync(dir, 'r')
  try {
    fsyncSync(dirFd)
  } finally {
    closeSync(dirFd)
  }
}
