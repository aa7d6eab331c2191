// Forwards from untrusted text: `forward add` words and options, and firewall.xml properties.
import { RuleParseError } from '../../common/errors.js'
import { checkSafe, parseDstHost, parsePort } from '../../common/rule/values.js'
import type { Forward, ForwardProto } from './model.js'

export interface ForwardOptions {
  proto?: string
  port?: string
  outsidePort?: string
  from?: string
  iface?: string
}

const IFACE = /^[A-Za-z0-9_.-]{1,15}$/

function parseServicePort(what: string, untrusted: string): Forward['port'] {
  const port = parsePort(untrusted)
  if (port === 0) throw new RuleParseError(`invalid ${what} '${untrusted}' (expected 1-65535)`)
  return port
}

export function forwardFromOptions(options: ForwardOptions): Forward {
  if (options.proto !== 'tcp' && options.proto !== 'udp') {
    throw new RuleParseError(`invalid forward protocol '${(options.proto ?? '').slice(0, 20)}' (expected tcp or udp)`)
  }
  const proto: ForwardProto = options.proto
  if (options.port === undefined) throw new RuleParseError('a forward needs the VM\'s port')
  const port = parseServicePort('port', options.port)
  const outsidePort = options.outsidePort === undefined ? port : parseServicePort('outside port', options.outsidePort)
  let from: Forward['from']
  if (options.from !== undefined) {
    const host = parseDstHost(checkSafe('from', options.from))
    if (host.kind === 'name') throw new RuleParseError(`invalid --from '${options.from}' (expected an IPv4 or IPv6 network)`)
    from = host
  }
  if (options.iface !== undefined && !IFACE.test(options.iface)) {
    throw new RuleParseError(`invalid interface name '${options.iface.slice(0, 20)}' (1-15 of A-Z a-z 0-9 _ . -)`)
  }
  return { proto, port, outsidePort, ...(from && { from }), ...(options.iface !== undefined && { iface: options.iface }) }
}

/** firewall.xml's <forward> properties. */
export const FORWARD_PROPERTIES = ['proto', 'port', 'outside_port', 'from', 'iface'] as const

export function forwardFromProperties(untrusted: ReadonlyMap<string, string>): Forward {
  for (const key of untrusted.keys()) {
    if (!(FORWARD_PROPERTIES as readonly string[]).includes(key)) throw new RuleParseError(`unknown forward property '${key.slice(0, 30)}'`)
  }
  const get = (key: string) => untrusted.get(key)
  return forwardFromOptions({
    ...(get('proto') !== undefined && { proto: get('proto') }),
    ...(get('port') !== undefined && { port: get('port') }),
    ...(get('outside_port') !== undefined && { outsidePort: get('outside_port') }),
    ...(get('from') !== undefined && { from: get('from') }),
    ...(get('iface') !== undefined && { iface: get('iface') }),
  })
}
