// Qubes' rules for a qube's name (qubes/vm/__init__.py validate_name), for dom0's registry and for
// names a VM-side command takes (qvm-connect-tcp), without the registry behind them.
import { UsageError } from './errors.js'
import { shown } from './untrusted-text.js'

const NAME_CHARS = /^[a-zA-Z][a-zA-Z0-9_.-]*$/

/** Qubes' validate_name(); returns the name or throws its message. */
export function validateName(untrustedName: string): string {
  const reason =
    untrustedName.length > 31
      ? 'VM name must be shorter than 32 characters'
      : !NAME_CHARS.test(untrustedName)
        ? 'VM name contains illegal characters'
        : untrustedName === 'Domain-0'
          ? "VM name cannot be 'Domain-0'"
          : untrustedName === 'none' || untrustedName === 'default'
            ? "VM name cannot be 'none' nor 'default'"
            : untrustedName.endsWith('-dm')
              ? 'VM name cannot end with -dm'
              : undefined
  if (reason !== undefined) throw new UsageError(`${reason}: '${shown(untrustedName)}'`)
  return untrustedName
}
