// A transaction on its way to nft waits in a file of its own (or a FIFO: nft/stream.ts), in a
// directory only root can enter (mkdtemp makes it 0700): nothing else can change it before nft reads
// it. Both are removed once nft is done with them, whatever happened; the daemon's nft session
// keeps its directory for all its transactions (KeptPrivateDir), the file still removed each time.
import { mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NftApplyError } from '../errors.js'

/** A fresh private directory (0700) in $TMPDIR; its path is one nft can be given between quotes. */
function privateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qubes-firewall-'))
  // the name is given to nft between quotes in an include, which also expands wildcards
  if (!/^[\w./-]+$/.test(dir)) {
    rmdirSync(dir)
    throw new NftApplyError(`nft cannot be given a file in ${JSON.stringify(dir)}: set TMPDIR to a plain path`)
  }
  return dir
}

const TRANSACTION_FILE = 'transaction.nft'
const withNewline = (script: string) => (script.endsWith('\n') ? script : `${script}\n`)

/** The path of a transaction file not made yet, in a fresh private directory; both gone once `use` is done. */
export async function withPrivatePath<T>(use: (path: string) => Promise<T>): Promise<T> {
  const dir = privateDir()
  const path = join(dir, TRANSACTION_FILE)
  try {
    return await use(path)
  } finally {
    // the file, then its directory: two calls (a recursive rm walks the tree, ~1 ms of each update)
    rmSync(path, { force: true })
    rmdirSync(dir)
  }
}

export async function withTransactionFile<T>(script: string, use: (file: string) => Promise<T>): Promise<T> {
  return withPrivatePath((file) => {
    writeFileSync(file, withNewline(script), { mode: 0o600 })
    return use(file)
  })
}

/** Kept directories not removed yet: removed when the process exits (a daemon's SIGTERM included). */
const keptDirs = new Set<KeptPrivateDir>()
let removedAtExit = false

function removeAtExit(dir: KeptPrivateDir): void {
  if (!removedAtExit) process.once('exit', () => keptDirs.forEach((kept) => kept.remove()))
  removedAtExit = true
  keptDirs.add(dir)
}

/**
 * One private directory for many transactions, one at a time (the daemon's nft session): made at
 * the first, kept until remove() or the process's exit. A directory made and removed for each
 * transaction cost ~0.5 ms of a ~4 ms one-VM update.
 */
export class KeptPrivateDir {
  private dir: string | undefined

  /** `script` in a file of the directory while `use` runs; the file is gone after, whatever happened. */
  async withTransactionFile<T>(script: string, use: (file: string) => Promise<T>): Promise<T> {
    const file = this.write(withNewline(script))
    try {
      return await use(file)
    } finally {
      rmSync(file, { force: true })
    }
  }

  /** The file written; a directory removed behind our back (tmpfiles' cleaning of a quiet /tmp) is made again. */
  private write(text: string): string {
    for (let attempt = 0; ; attempt++) {
      if (this.dir === undefined) {
        this.dir = privateDir()
        removeAtExit(this)
      }
      const file = join(this.dir, TRANSACTION_FILE)
      try {
        writeFileSync(file, text, { mode: 0o600 })
        return file
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0) throw err
        this.remove()
      }
    }
  }

  /** The directory and anything in it, gone; a next transaction makes a fresh one. */
  remove(): void {
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true })
    this.dir = undefined
    keptDirs.delete(this)
  }
}
