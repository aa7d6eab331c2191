// A full load streamed into nft while it is rendered: nft parses what was written while the agent
// renders the next parts, so on two cores most of the render hides behind nft's own parse. nft
// reads a FIFO in a directory only root can enter (nft/transaction-file.ts); nothing reaches the
// kernel before nft has read to the end, and it takes all of it or none of it.
//
// Cut short (the agent killed mid-way: the kernel closes our end), nft would take what it read for
// the whole transaction. So the parts come in an order where every prefix leaves each VM on its old
// rules, on its new ones, or rejected (plan.ts: FullPlan), and the last part, the dispatch chains
// every VM's traffic passes first, goes in ONE write(2) of at most PIPE_BUF bytes, which the kernel
// never splits: nft reads all of it or none of it. On an error of ours, nft is killed before our
// end is closed: it takes nothing. nft may start before its transaction is ready (withNftReading):
// it waits on the open FIFO, and an agent that gives up or dies before writing leaves it an empty
// end, which changes nothing.
import { closeSync, constants, openSync, rmSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { runCommand, type CommandResult } from '../../common/run-command.js'
import { NftApplyError, nftRefused } from '../errors.js'
import { nftEnv } from './env.js'
import { withPrivatePath } from './transaction-file.js'
import { PIPE_BUF, type StreamedTransaction } from './transaction.js'

/** Parts are gathered into writes of about this size (a pipe holds 64 KiB). */
const WRITE_BYTES = 64 * 1024

/** A transaction's last part as written: refused when over PIPE_BUF (it must reach nft whole or not at all). */
function lastPart(transaction: StreamedTransaction): Buffer {
  const last = Buffer.from(transaction.last)
  if (last.length > PIPE_BUF) throw new NftApplyError(`a streamed transaction's last part is ${last.length} bytes, more than PIPE_BUF (${PIPE_BUF})`)
  return last
}

/** `nft`: the program and its first arguments (`-f FIFO` follow). */
export async function runNftStreamed(nft: readonly [string, ...string[]], transaction: StreamedTransaction): Promise<void> {
  lastPart(transaction)
  await withNftReading(nft, (reading) => reading.load(transaction))
}

/** An nft reading a FIFO whose writing end is ours, waiting for its transaction. */
export interface NftReading {
  /** Streams `transaction` to it; resolves once nft took it, throws if it did not. One transaction only. */
  load(transaction: StreamedTransaction): Promise<void>
}

/**
 * `use` gets an nft already started, reading a FIFO (both ends open), so that its start overlaps what
 * `use` does before it loads. Left unused, our end closes with nothing written and nft takes nothing;
 * should the agent die before, nft reads the same empty end.
 */
export async function withNftReading<T>(nft: readonly [string, ...string[]], use: (reading: NftReading) => Promise<T>): Promise<T> {
  return withPrivatePath(async (fifo) => {
    const made = await runCommand('mkfifo', ['-m', '600', fifo])
    if (made.exitCode !== 0) throw new NftApplyError(`cannot make a FIFO for nft: ${made.stderr.trim() || made.failure}`)
    const abort = new AbortController()
    const exited = runCommand(nft[0], [...nft.slice(1), '-f', fifo], { signal: abort.signal, env: nftEnv() })
    // nft killed: it never reads to an end, so it takes nothing (once it exited, this does nothing)
    const kill = async () => {
      abort.abort()
      await exited
    }
    const writer = await openWriter(fifo, exited).catch(async (err: unknown) => {
      await kill()
      throw err
    })
    // both ends are open: without its name, nft cannot open the FIFO again to quote the line of an
    // error (it would wait there for a writer that never comes), and says the error without it
    rmSync(fifo, { force: true })
    if (writer === undefined) throw refusal(await exited, 'nft exited before reading the transaction')
    let used = false
    const load = async (transaction: StreamedTransaction) => {
      const last = lastPart(transaction)
      if (used) throw new NftApplyError('an nft reading a FIFO takes one transaction')
      used = true
      await stream(writer, exited, kill, transaction.parts, last)
    }
    try {
      return await use({ load })
    } finally {
      if (!used) {
        await writer.close()
        await exited
      }
    }
  })
}

/** The transaction into nft's FIFO; resolves once nft took it, throws if it did not (nft killed first when the error is ours). */
async function stream(writer: FileHandle, exited: Promise<CommandResult>, kill: () => Promise<void>, parts: Iterable<string>, last: Buffer): Promise<void> {
  // kept to quote the line of an error ourselves: flat strings, cheap to keep
  const written: string[] = []
  let stoppedReading = false
  try {
    await writeParts(writer, parts, last, written)
  } catch (err) {
    stoppedReading = isPipeClosed(err)
    // nft stopped reading (EPIPE): it says why itself. Any other error is ours: nft dies before our end closes
    if (!stoppedReading) {
      await kill()
      await writer.close()
      throw err
    }
  }
  await writer.close()
  const result = await exited
  if (result.exitCode !== 0 || stoppedReading) throw refusal(result, 'nft stopped reading the transaction', lineOf(written))
}

function refusal(result: CommandResult, otherwise: string, quote?: (line: number) => string | undefined): NftApplyError {
  return nftRefused(result.stderr || result.stdout || (result.exitCode === 0 ? otherwise : result.failure) || otherwise, quote)
}

/** Line `n` (from 1) of what was written. */
const lineOf = (written: readonly string[]) => (n: number): string | undefined => written.join('').split('\n', n)[n - 1]

const isPipeClosed = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE'

/** Our end of the FIFO once nft has opened its end; undefined when nft exited without opening it. */
async function openWriter(fifo: string, exited: Promise<CommandResult>): Promise<FileHandle | undefined> {
  // (waits in libuv's thread pool until a reader opens the FIFO)
  const opening = open(fifo, 'w')
  const writer = await Promise.race([opening, exited.then(() => undefined)])
  if (writer !== undefined) return writer
  // the open still waits: our own reading end lets it complete, then both are closed
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK)
  try {
    await (await opening.catch(() => undefined))?.close()
  } finally {
    closeSync(reader)
  }
  return undefined
}

/** The parts in writes of ~WRITE_BYTES, one in flight while the next is rendered; then `last` in one write(2). */
async function writeParts(writer: FileHandle, parts: Iterable<string>, last: Buffer, written: string[]): Promise<void> {
  let inFlight: Promise<void> = Promise.resolve()
  let batch = ''
  for (const part of parts) {
    batch += part
    if (batch.length < WRITE_BYTES) continue
    await inFlight
    written.push(batch)
    inFlight = writeAll(writer, batch)
    // handled here too: a render error may leave it unawaited
    inFlight.catch(() => {})
    batch = ''
  }
  await inFlight
  written.push(batch, last.toString())
  await writeAll(writer, batch)
  const { bytesWritten } = await writer.write(last)
  if (bytesWritten !== last.length) throw new NftApplyError(`the last part reached nft cut (${bytesWritten} of ${last.length} bytes)`)
}

/** All of `text`: written as a string (encoded by node's C++ side, no Buffer of it in our heap), the rest of a short write as bytes. */
async function writeAll(writer: FileHandle, text: string): Promise<void> {
  const { bytesWritten } = await writer.write(text)
  if (bytesWritten === Buffer.byteLength(text)) return
  const buffer = Buffer.from(text)
  for (let offset = bytesWritten; offset < buffer.length; ) offset += (await writer.write(buffer, offset)).bytesWritten
}
