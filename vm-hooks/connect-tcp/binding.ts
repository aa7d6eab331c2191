// `[LOCALPORT]:[VMNAME]:[PORT]`, Qubes' qvm-connect-tcp argument, parsed once at the edge into a
// Binding; past it, ports are Ports and the VM is a checked qrexec target.
import { validateName } from '../../common/qube-name.js'

export type Port = number & { readonly __brand: 'Port' }

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

// canonical decimal only: `+022` must never reach a service that reads it as `+22` (policy is per argument)
const PORT = /^[1-9][0-9]{0,4}$/

/** A port 1-65535 written in canonical decimal (no sign, no leading zero); undefined otherwise. */
export function parsePort(untrustedPort: string): Port | undefined {
  if (!PORT.test(untrustedPort)) return undefined
  const port = Number(untrustedPort)
  return port <= 65535 ? (port as Port) : undefined
}

/** A value as it may appear in a one-line message: bounded, control characters shown as `?`. */
export function shown(untrusted: string, max = 40): string {
  const clean = untrusted.replace(/[\x00-\x1f\x7f]/g, '?')
  return clean.length > max ? `${clean.slice(0, max)}...` : clean
}

function port(untrustedPort: string): Port {
  const parsed = parsePort(untrustedPort)
  if (parsed === undefined) throw new BindingError(`Invalid port provided: '${shown(untrustedPort)}' (expected 1-65535)`)
  return parsed
}

/** A qrexec target for qubes.ConnectTCP: '' and `@default` mean dom0's default, else a qube's name. */
export function parseTargetVm(untrustedVm: string): TargetVm {
  if (untrustedVm === '' || untrustedVm === DEFAULT_TARGET) return DEFAULT_TARGET
  try {
    return validateName(untrustedVm) as TargetVm
  } catch (err) {
    // Qubes' validate_name() wording, with the value bounded
    const reason = err instanceof Error ? err.message.replace(/: '.*'$/s, '') : 'invalid VM name'
    throw new BindingError(`${reason}: '${shown(untrustedVm)}'`)
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
