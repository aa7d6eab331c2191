// qvm-connect-tcp's words past commander: which mode was asked for (one at a time), and a local
// port or binding argument parsed once; every refusal is a UsageError in Qubes' words.
import { UsageError } from '../../common/errors.js'
import { parsePort } from '../../common/rule/port.js'
import { shown } from '../../common/untrusted-text.js'
import { BindingError, CONNECT_TCP_PORT, USAGE, parseBinding, type Binding } from './binding.js'

export const PROG = 'qvm-connect-tcp'

export interface Options {
  foreground?: boolean
  list?: boolean
  stop?: string
  persist?: boolean
  unpersist?: string
  rwDir?: string
  stateDir?: string
}

export function localPortArgument(option: string, untrusted: string): number {
  const port = parsePort(untrusted, CONNECT_TCP_PORT)
  if (port === undefined) throw new UsageError(`${option}: Invalid port provided: '${shown(untrusted)}' (expected 1-65535)`)
  return port
}

/** Refuses a second mode beside `mode`, and a binding argument where the mode takes none (or lacks one). */
export function only(opts: Options, spec: string | undefined, mode: keyof Options): void {
  const modes = (['list', 'stop', 'persist', 'unpersist', 'foreground'] as const).filter((key) => opts[key] !== undefined && opts[key] !== false)
  const others = modes.filter((m) => m !== mode)
  if (others.length > 0) throw new UsageError(`--${mode} cannot be combined with --${others[0]}`)
  const wantsSpec = mode === 'persist' || mode === 'foreground'
  if (wantsSpec && spec === undefined) throw new UsageError(`--${mode} needs ${USAGE}`)
  if (!wantsSpec && spec !== undefined) throw new UsageError(`--${mode} takes no ${USAGE}`)
}

export function bindingOf(untrustedSpec: string): Binding {
  try {
    return parseBinding(untrustedSpec)
  } catch (err) {
    if (err instanceof BindingError) throw new UsageError(err.message)
    throw err
  }
}
