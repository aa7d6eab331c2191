// A transaction on its way to nft waits in a file of its own, in a directory only root can enter
// (mkdtemp makes it 0700): nothing else can change it before nft reads it. Both are removed once
// nft is done with them, whatever happened.
import { mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NftApplyError } from '../errors.js'

export async function withTransactionFile<T>(script: string, use: (file: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'qubes-firewall-'))
  try {
    const file = join(dir, 'transaction.nft')
    // the name is given to nft between quotes in an include, which also expands wildcards
    if (!/^[\w./-]+$/.test(file)) throw new NftApplyError(`nft cannot be given the file ${JSON.stringify(file)}: set TMPDIR to a plain path`)
    writeFileSync(file, script.endsWith('\n') ? script : `${script}\n`, { mode: 0o600 })
    return await use(file)
  } finally {
    // the file, then its directory: two calls (a recursive rm walks the tree, ~1 ms of each update)
    rmSync(join(dir, 'transaction.nft'), { force: true })
    rmdirSync(dir)
  }
}
