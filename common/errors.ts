// One error class per edge, so that a command knows whose fault an error is; the message names the
// value and what was expected (StoreError also carries its file).

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
