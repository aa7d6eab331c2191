// The agent that enforces a VM's rules (its netvm's), asked what it sees: through its socket only (a
// QubesDB transport carries pushes), with one error line for each way that can fail.
import { existsSync } from 'node:fs'
import { UsageError } from '../../common/errors.js'
import { exchange, parseTransport, TRANSPORT_FEATURE, UnreachableError, type Transport } from '../apply/transport.js'
import { openStream, type Stream } from '../apply/stream.js'
import type { Domain, Registry } from '../registry/registry.js'
import { AnswerError } from './answers.js'

/** A VM as its netvm's agent knows it: by its addresses (a chain each). */
export interface ObservedVm {
  readonly netvm: string
  readonly transport: Transport
  readonly ip?: string
  readonly ip6?: string
  /** ip and ip6, those it has. */
  readonly ips: readonly string[]
}

/** The agent of `vm`'s netvm and how to reach it; `needs` starts the error for a QubesDB transport (`hits need`). */
export function observedVm(registry: Registry, vm: Domain, needs: string): ObservedVm {
  if (vm.netvm === undefined) throw new UsageError(`${vm.name} has no netvm: no agent holds its rules`)
  const ips = [vm.ip, vm.ip6].filter((ip): ip is string => ip !== undefined)
  if (ips.length === 0) throw new UsageError(`${vm.name} has no IP address: no agent holds its rules`)
  const configured = registry.require(vm.netvm).features[TRANSPORT_FEATURE]
  const transport = parseTransport(configured, vm.netvm)
  if (configured === undefined && transport.kind === 'unix' && !existsSync(transport.path)) {
    throw new UsageError(`${vm.netvm} runs no agent: no feature ${TRANSPORT_FEATURE}, and nothing at ${transport.path}`)
  }
  if (transport.kind === 'qubesdb') {
    throw new UsageError(`${needs} the agent's socket, not QubesDB: set the feature ${TRANSPORT_FEATURE} of ${vm.netvm} to unix:PATH or exec:COMMAND`)
  }
  return { netvm: vm.netvm, transport, ips, ...(vm.ip !== undefined && { ip: vm.ip }), ...(vm.ip6 !== undefined && { ip6: vm.ip6 }) }
}

const unreachable = (vm: ObservedVm, err: UnreachableError): Error => new Error(`agent of ${vm.netvm} unreachable (${err.message})`)

/** The agent's answers to `requests`, in order, still untrusted. */
export async function askAgent(vm: ObservedVm, requests: readonly object[]): Promise<unknown[]> {
  try {
    return await exchange(vm.transport, requests)
  } catch (err) {
    throw err instanceof UnreachableError ? unreachable(vm, err) : err
  }
}

/** `parse` run on the agent's answer; a field that is off becomes one line naming the agent. */
export function readAnswer<T>(vm: ObservedVm, parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    if (err instanceof AnswerError) throw new Error(`unreadable answer from the agent of ${vm.netvm}: ${err.message}`)
    throw err
  }
}

/**
 * `requests` sent on a connection that stays open, each line of answer handed to `onLine` (it may throw:
 * the stream then ends with that error). Resolves to 'closed' once `stop` fired, 'ended' when the agent's side ended.
 */
export async function streamFromAgent(vm: ObservedVm, requests: readonly object[], onLine: (untrustedLine: string) => void, stop: (close: () => void) => void): Promise<'closed' | 'ended'> {
  const stream: Stream = openStream(vm.transport, requests, (line) => readAnswer(vm, () => onLine(line)))
  stop(() => stream.close())
  try {
    return await stream.done
  } catch (err) {
    throw err instanceof UnreachableError ? unreachable(vm, err) : err
  }
}
