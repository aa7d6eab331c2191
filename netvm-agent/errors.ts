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
