// The agent's error classes, one per edge: a push that breaks the schema (with the key, when one is
// to blame), and a transaction nft refused.

/** A push (or part of one) that does not follow the QubesDB schema. */
export class PushError extends Error {
  override name = 'PushError'
  constructor(
    message: string,
    /** The push's key to blame, as received (untrusted: shown() it), when one is. */
    readonly key: string | null = null,
  ) {
    super(message)
  }
}

/** nft refused a transaction. */
export class NftApplyError extends Error {
  override name = 'NftApplyError'
}

/** Where nft read what it complains of: `FILE:LINE:COLUMN[-COLUMN]: `, the line number captured. */
const NFT_LOCATION = /^\/\S+:(\d+):\d+(-\d+)?: /

/**
 * What nft said when it refused a transaction, whichever way it was given it (a file, the session's
 * include, a stream): its first three lines of text (the caret lines under an echoed command carry
 * nothing), at most 500 characters. `quote`: a line of the transaction, for a complaint that names
 * its line without echoing it (nft cannot read a streamed transaction a second time).
 */
export function nftRefused(output: string, quote?: (line: number) => string | undefined): NftApplyError {
  const lines = output
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^\s*\^+\s*$/.test(line) && !line.startsWith('In file included from '))
    .flatMap((line, i, all) => {
      const at = quote && NFT_LOCATION.exec(line)
      const quoted = at ? quote(Number(at[1])) : undefined
      return quoted === undefined || all[i + 1] === quoted ? [line] : [line, quoted]
    })
    // where nft read it (a temporary file, gone by now) says nothing: the command itself follows
    .map((line) => line.replace(NFT_LOCATION, ''))
  return new NftApplyError(`nft refused the transaction: ${lines.slice(0, 3).join(' | ').slice(0, 500)}`)
}
