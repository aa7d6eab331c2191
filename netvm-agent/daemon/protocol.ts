// The socket's protocol, typed: one JSON request a line, parsed once at the edge; a malformed one
// becomes an error answer and changes nothing.
import { shown } from '../../common/untrusted-text.js'
import type { ApplyResult } from '../agent.js'
import { parseVmIp } from '../push/vm-ip.js'
import { requestShapeProblem } from './bounds.js'
import type { Entries } from './state.js'

export type Request =
  | { readonly op: 'replace' | 'update'; readonly untrustedEntries: unknown }
  | { readonly op: 'remove'; readonly ips: readonly string[] }
  | { readonly op: 'status' }

export type Response = (ApplyResult & { ignored?: readonly string[] }) | { ok: false; error: string } | ({ ok: true } & Record<string, unknown>)

export class RequestError extends Error {
  override name = 'RequestError'
}

/** Names an untrusted value without converting it (an object's own toString could throw). */
function describeValue(untrusted: unknown): string {
  return typeof untrusted === 'string' ? `'${shown(untrusted)}'` : `of type ${untrusted === null ? 'null' : typeof untrusted}`
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
    default:
      throw new RequestError(`unknown op ${describeValue(op)} (expected replace, update, remove or status)`)
  }
}

export type { Entries }
