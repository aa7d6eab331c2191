// `[LOCALPORT]:[VMNAME]:[PORT]`, Qubes' qvm-connect-tcp argument, parsed once at the edge into a
// Binding; past it, ports are Ports and the VM is a checked qrexec target.
import { UsageError } from '../../common/errors.js'
import { validateName } from '../../common/qube-name.js'
import type { Port } from '../../common/rule/model.js'
import { parsePort, type PortForm } from '../../common/rule/port.js'
import { shown } from '../../common/untrusted-text.js'

/** `@default` (dom0's policy picks the qube) or a qube's name. */
export type TargetVm = string & { readonly __brand: 'TargetVm' }

export interface Binding {
  readonly localPort: Port
  readonly vm: TargetVm
  readonly port: Port
}

/** Qubes' qrexec service the binding calls. */
export const SERVICE = 'qubes.ConnectTCP'
export const DEFAULT_TARGET = '@default' as TargetVm
export const USAGE = '[localport]:[vmname]:[port]'

export class BindingError extends Error {
  override name = 'BindingError'
}

/**
 * A port as qubes.ConnectTCP takes it: 1-65535 in canonical decimal only, as `+022` must never
 * reach a service that reads it as `+22` (the policy matched the argument as written).
 */
export const CONNECT_TCP_PORT: PortForm = { min: 1, canonical: true }

function port(untrustedPort: string): Port {
  const parsed = parsePort(untrustedPort, CONNECT_TCP_PORT)
  if (parsed === undefined) throw new BindingError(`Invalid port provided: '${shown(untrustedPort)}' (expected 1-65535)`)
  return parsed
}

/** A qrexec target for qubes.ConnectTCP: '' and `@default` mean dom0's default, else a qube's name. */
export function parseTargetVm(untrustedVm: string): TargetVm {
  if (untrustedVm === '' || untrustedVm === DEFAULT_TARGET) return DEFAULT_TARGET
  try {
    return validateName(untrustedVm) as TargetVm
  } catch (err) {
    // Qubes' validate_name() wording
    if (err instanceof UsageError) throw new BindingError(err.message)
    throw err
  }
}

/**
 * Qubes' forms: `444:@default:444`, `::444` (local port = port, vm = @default),
 * `10444:mytcp-service:444`. Exactly three fields.
 */
export function parseBinding(untrustedSpec: string): Binding {
  const fields = untrustedSpec.split(':')
  if (fields.length !== 3) throw new BindingError(`invalid binding '${shown(untrustedSpec)}': expected ${USAGE}`)
  const [untrustedLocal = '', untrustedVm = '', untrustedPort = ''] = fields
  if (untrustedPort === '') throw new BindingError('Please provide PORT')
  const remote = port(untrustedPort)
  const local = untrustedLocal === '' ? remote : port(untrustedLocal)
  return { localPort: local, vm: parseTargetVm(untrustedVm), port: remote }
}

/** The binding as its canonical argument: `444:@default:444`. */
export function formatBinding(binding: Binding): string {
  return `${binding.localPort}:${binding.vm}:${binding.port}`
}

/** What qrexec-client-vm is given: the target and `qubes.ConnectTCP+PORT`. */
export function qrexecArgs(binding: Binding): [vm: string, service: string] {
  return [binding.vm, `${SERVICE}+${binding.port}`]
}
