// One error class per edge; each carries what it is about, and the command formats it once.

/** A rule, a rule word or a stored rule that does not validate. */
export class RuleParseError extends Error {
  override name = 'RuleParseError'
}

/** A firewall.xml or qubes.xml that cannot be read as Qubes writes it. */
export class StoreError extends Error {
  override name = 'StoreError'
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`)
  }
}

/** A user's request that cannot be carried out (unknown VM, bad rule number ...). */
export class UsageError extends Error {
  override name = 'UsageError'
}
