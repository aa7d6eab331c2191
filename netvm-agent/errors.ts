// The agent's error classes, one per edge; each carries what it is about.

/** A push (or part of one) that does not follow the QubesDB schema. */
export class PushError extends Error {
  override name = 'PushError'
  constructor(
    message: string,
    readonly vm: string | null = null,
    readonly rule: number | null = null,
    readonly key: string | null = null,
  ) {
    super(message)
  }
}

/** nft refused a transaction. */
export class NftApplyError extends Error {
  override name = 'NftApplyError'
}
