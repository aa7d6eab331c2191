// What the agent hands nft: one script, or a full load streamed to nft in parts while they are
// rendered (nft/stream.ts), ending with a part small enough to reach nft whole or not at all.
import type { FullPlan } from '../plan.js'
import { serialise } from './serialise.js'

/** Linux's PIPE_BUF: a write(2) of at most this many bytes to a FIFO is never split. */
export const PIPE_BUF = 4096

export interface StreamedTransaction {
  /** Written one after another, as they are iterated: nft parses the first while the next are rendered. */
  readonly parts: Iterable<string>
  /** The last part, at most PIPE_BUF bytes, written by one write(2). */
  readonly last: string
}

export type Transaction = string | StreamedTransaction

/** The whole script (what `render` prints); iterates a streamed transaction's parts. */
export function transactionText(transaction: Transaction): string {
  if (typeof transaction === 'string') return transaction
  let text = ''
  for (const part of transaction.parts) text += part
  return text + transaction.last
}

/** A full plan as nft reads it, each VM's chain serialised as it is rendered. */
export function streamedPlan(plan: FullPlan): StreamedTransaction {
  function* parts(): Generator<string> {
    yield serialise(plan.prologue)
    for (const commands of plan.vmChains) yield serialise(commands)
    yield serialise(plan.switchover)
  }
  return { parts: parts(), last: serialise(plan.dispatch) }
}
