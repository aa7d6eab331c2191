// A transaction on its way to nft waits in a file of its own (or a FIFO: nft/stream.ts), in a
// directory only root can enter (mkdtemp makes it 0700): nothing else can change it before nft reads
// it. Both are removed once nft is done with them, whatever happened.
import { mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NftApplyError } from '../errors.js'

/** The path of a transaction file not made yet, in a fresh private directory; both gone once `use` is done. */
export async function withPrivatePath<T>(use: (path: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'qubes-firewall-'))
  const path = join(dir, 'transaction.nft')
  try {
    // the name is given to nft between quotes in an include, which also expands wildcards
    if (!/^[\w./-]+$/.test(path)) throw new NftApplyError(`nft cannot be given the file ${JSON.stringify(path)}: set TMPDIR to a plain path`)
    return await use(path)
  } finally {
    // the file, then its directory: two calls (a recursive rm walks the tree, ~1 ms of each update)
    rmSync(path, { force: true })
    rmdirSync(dir)
  }
}

export async function withTransactionFile<T>(script: string, use: (file: string) => Promise<T>): Promise<T> {
  return withPrivatePath((file) => {
    writeFileSync(file, script.endsWith('\n') ? script : `${script}\n`, { mode: 0o600 })
    return use(file)
  })
}
