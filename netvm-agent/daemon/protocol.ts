// The socket's protocol, typed: one JSON request a line, parsed once at the edge; a malformed one
// becomes an error answer and changes nothing.
import { shown } from '../../common/untrusted-text.js'
import type { ApplyResult } from '../agent.js'
import type { Probe } from '../check.js'
import { parseVmIp } from '../push/vm-ip.js'
import { requestShapeProblem } from './bounds.js'
import type { Entries } from './state.js'

export type Request =
  | { readonly op: 'replace' | 'update'; readonly untrustedEntries: unknown }
  | { readonly op: 'remove'; readonly ips: readonly string[] }
  | { readonly op: 'status' }
  | { readonly op: 'hits'; readonly ip: string }
  | { readonly op: 'check'; readonly ip: string; readonly probe: Probe }
  | { readonly op: 'log'; readonly ip?: string; readonly follow: boolean }

export type Response = (ApplyResult & { ignored?: readonly string[] }) | { ok: false; error: string } | ({ ok: true } & Record<string, unknown>)

export class RequestError extends Error {
  override name = 'RequestError'
}

/** Names an untrusted value without converting it (an object's own toString could throw). */
function describeValue(untrusted: unknown): string {
  return typeof untrusted === 'string' ? `'${shown(untrusted)}'` : `of type ${untrusted === null ? 'null' : typeof untrusted}`
}

function vmIpOf(untrusted: unknown): string {
  const ip = typeof untrusted === 'string' ? parseVmIp(untrusted) : undefined
  if (ip === undefined) throw new RequestError(`ip ${describeValue(untrusted)} is not a VM's IP address`)
  return ip.ip
}

/** The packet of a `check`: its fields' types here, their values in check.ts (one message for CLI and socket). */
function probeOf(request: Record<string, unknown>): Probe {
  const { dst, proto, port, icmpType } = request
  if (typeof dst !== 'string') throw new RequestError(`dst ${describeValue(dst)} is not an address`)
  if (proto !== undefined && proto !== 'tcp' && proto !== 'udp' && proto !== 'icmp') {
    throw new RequestError(`proto ${describeValue(proto)} is not tcp, udp or icmp`)
  }
  for (const [key, value] of [['port', port], ['icmpType', icmpType]] as const) {
    if (value !== undefined && !Number.isSafeInteger(value)) throw new RequestError(`${key} ${describeValue(value)} is not an integer`)
  }
  return { dst, ...(proto !== undefined && { proto }), ...(port !== undefined && { port: port as number }), ...(icmpType !== undefined && { icmpType: icmpType as number }) }
}

export function parseRequest(untrustedLine: string): Request {
  const problem = requestShapeProblem(untrustedLine)
  if (problem !== undefined) throw new RequestError(problem)
  let untrusted: unknown
  try {
    untrusted = JSON.parse(untrustedLine)
  } catch {
    throw new RequestError('request is not JSON')
  }
  if (typeof untrusted !== 'object' || untrusted === null || Array.isArray(untrusted)) throw new RequestError('request is not a JSON object')
  const request = untrusted as Record<string, unknown>
  const op = request['op']
  switch (op) {
    case 'replace':
    case 'update':
      // the entries themselves are the push parser's to check
      return { op, untrustedEntries: request['entries'] }
    case 'remove': {
      const untrustedIps = request['ips']
      if (!Array.isArray(untrustedIps) || !untrustedIps.every((ip) => typeof ip === 'string' && parseVmIp(ip))) {
        throw new RequestError('ips must be an array of IP addresses')
      }
      return { op, ips: untrustedIps.map((ip) => parseVmIp(ip as string)?.ip as string) }
    }
    case 'status':
      return { op }
    case 'hits':
      return { op, ip: vmIpOf(request['ip']) }
    case 'check':
      return { op, ip: vmIpOf(request['ip']), probe: probeOf(request) }
    case 'log': {
      const follow = request['follow'] ?? false
      if (typeof follow !== 'boolean') throw new RequestError('follow must be true or false')
      return { op, follow, ...(request['ip'] !== undefined && { ip: vmIpOf(request['ip']) }) }
    }
    default:
      throw new RequestError(`unknown op ${describeValue(op)} (expected replace, update, remove, status, hits, check or log)`)
  }
}

export type { Entries }
