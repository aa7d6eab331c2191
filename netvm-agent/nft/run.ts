// The only code that runs nft: one transaction in nft's native syntax in, or a JSON listing out.
import { runCommand, type CommandResult } from '../../common/run-command.js'
import type { ListNft } from '../kernel-facts.js'
import { NftApplyError, nftRefused } from '../errors.js'
import { nftEnv } from './env.js'
import { NftSession, SESSION_MAX_BYTES } from './session.js'
import { runNftStreamed, withNftReading, type NftReading } from './stream.js'
import type { StreamedTransaction, Transaction } from './transaction.js'
import { withTransactionFile } from './transaction-file.js'

export type RunNft = (transaction: Transaction) => Promise<void>

const NFT = process.env['QUBES_FIREWALL_NFT'] ?? 'nft'

/** Loads one transaction: the kernel takes all of it or none of it. A streamed one goes through nft/stream.ts. */
// nft reads "-" through /dev/stdin, which cannot be opened on the socket pair Node gives a child:
// the transaction goes through a private file instead
export const runNft: RunNft = async (transaction) => {
  if (typeof transaction !== 'string') return runNftStreamed([NFT], transaction)
  const result = await withTransactionFile(transaction, (file) => runCommand(NFT, ['-f', file], { env: nftEnv() }))
  if (result.exitCode !== 0) {
    throw nftRefused(result.stderr || result.stdout || result.failure || `exit code ${result.exitCode}`)
  }
}

/**
 * `use` gets a RunNft whose first streamed transaction goes to an nft started now, reading its FIFO
 * (its start overlaps what `use` does first: a one-shot apply's reading of the push); any other goes
 * as runNft does (a refused load's fail-closed retry).
 */
export function withNftStartedAhead<T>(use: (runNft: RunNft) => Promise<T>): Promise<T> {
  return withNftReading([NFT], (reading) => {
    let ahead: NftReading | undefined = reading
    return use((transaction) => {
      if (typeof transaction === 'string' || ahead === undefined) return runNft(transaction)
      const started = ahead
      ahead = undefined
      return started.load(transaction)
    })
  })
}

/**
 * For the daemon: small transactions through one long-lived nft (nft/session.ts), saving its start
 * each time (a streamed one too, when its parts come to little); a large one through a fresh nft as above.
 */
export function runNftInSession(session = new NftSession(NFT)): RunNft {
  return (transaction) => {
    const script = typeof transaction === 'string' ? transaction : smallScript(transaction, SESSION_MAX_BYTES)
    return typeof script === 'string' && Buffer.byteLength(script) <= SESSION_MAX_BYTES ? session.run(script) : runNft(script)
  }
}

/** The whole script when the parts come to at most `limit` characters; else the transaction, the parts read so far in front. */
function smallScript(transaction: StreamedTransaction, limit: number): string | StreamedTransaction {
  const parts = transaction.parts[Symbol.iterator]()
  let head = ''
  for (let next = parts.next(); !next.done; next = parts.next()) {
    head += next.value
    if (head.length > limit) return { parts: resumed(head, parts), last: transaction.last }
  }
  return head + transaction.last
}

/** What was read, then the rest, as it is rendered. */
function* resumed(head: string, rest: Iterator<string>): Generator<string> {
  yield head
  for (let next = rest.next(); !next.done; next = rest.next()) yield next.value
}

/**
 * Every listing asked of ONE nft (`nft -j -t -i`, a `list ...` a line): a process costs the daemon
 * ~10 ms of its main thread (fork copies its page tables), and the kernel facts are six listings.
 * nft answers each listing with a line on stdout, and a listing that fails (its object does not
 * exist) with an error on stderr that quotes it: that one is undefined. Terse: sets come without
 * their elements (the drop log's rate sets alone may hold 65535 each). An nft that cannot run
 * answers nothing: every listing is undefined. `nft`: the program and its first arguments (tests:
 * `ip netns exec NS nft`).
 */
export function listNftWith(nft: readonly [string, ...string[]]): ListNft {
  return async (lists) => {
    if (lists.length === 0) return []
    const commands = lists.map((args) => `list ${args.join(' ')}`)
    const result = await runCommand(nft[0], [...nft.slice(1), '-j', '-t', '-i'], { input: `${commands.join('\n')}\n`, env: nftEnv() })
    if (result.exitCode !== 0) return lists.map(() => undefined)
    return answersOf(commands, result)
  }
}

/** Each listing's line of stdout, in order, but for the listings an error on stderr quotes. */
function answersOf(commands: readonly string[], result: CommandResult): unknown[] {
  const quoted = new Set(result.stderr.split('\n'))
  const lines = result.stdout.split('\n').filter((line) => line !== '')
  const answered = commands.filter((command) => !quoted.has(command)).length
  if (lines.length !== answered) throw new NftApplyError(`nft answered ${lines.length} of ${answered} listings: ${result.stderr.trim() || 'and said nothing'}`)
  let next = 0
  return commands.map((command) => (quoted.has(command) ? undefined : (JSON.parse(lines[next++] as string) as unknown)))
}

export const listNft: ListNft = listNftWith([NFT])
