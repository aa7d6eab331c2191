// The only code that runs nft: one transaction in nft's native syntax in, or a JSON listing out.
import { runCommand } from '../../common/run-command.js'
import { nftRefused } from '../errors.js'
import { NftSession, SESSION_MAX_BYTES } from './session.js'
import { withTransactionFile } from './transaction-file.js'

export type RunNft = (script: string) => Promise<void>
export type ListNft = (args: readonly string[]) => Promise<unknown>

const NFT = process.env['QUBES_FIREWALL_NFT'] ?? 'nft'

/** Loads one transaction: the kernel takes all of it or none of it. */
// nft reads "-" through /dev/stdin, which cannot be opened on the socket pair Node gives a child:
// the transaction goes through a private file instead
export const runNft: RunNft = async (script) => {
  const result = await withTransactionFile(script, (file) => runCommand(NFT, ['-f', file]))
  if (result.exitCode !== 0) {
    throw nftRefused(result.stderr || result.stdout || result.failure || `exit code ${result.exitCode}`)
  }
}

/**
 * For the daemon: small transactions through one long-lived nft (nft/session.ts), saving its start
 * each time; a large one (a full load) through a fresh nft as above.
 */
export function runNftInSession(session = new NftSession(NFT)): RunNft {
  return (script) => (Buffer.byteLength(script) <= SESSION_MAX_BYTES ? session.run(script) : runNft(script))
}

/**
 * `nft -j list ...`, parsed; undefined when the object does not exist. `list sets` comes terse
 * (names, no elements): the drop log's rate sets alone may hold 65535 elements each.
 */
export const listNft: ListNft = async (args) => {
  const result = await runCommand(NFT, ['-j', ...(args[0] === 'sets' ? ['-t'] : []), 'list', ...args])
  if (result.exitCode !== 0) return undefined
  return JSON.parse(result.stdout) as unknown
}
