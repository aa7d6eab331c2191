// Forwards from untrusted text: `forward add` words and options, and firewall.xml properties.
import { RuleParseError } from '../../common/errors.js'
import { parseForwardFrom, parseForwardProto, parseIface } from '../../common/rule/forward-values.js'
import { parseServicePort } from '../../common/rule/port.js'
import { shown } from '../../common/untrusted-text.js'
import type { Forward } from './model.js'

export interface ForwardOptions {
  proto?: string
  port?: string
  outsidePort?: string
  from?: string
  iface?: string
}

export function forwardFromOptions(options: ForwardOptions): Forward {
  const proto = parseForwardProto(options.proto)
  if (options.port === undefined) throw new RuleParseError('a forward needs the VM\'s port')
  const port = parseServicePort('port', options.port)
  const outsidePort = options.outsidePort === undefined ? port : parseServicePort('outside port', options.outsidePort)
  const from = options.from === undefined ? undefined : parseForwardFrom(options.from)
  const iface = options.iface === undefined ? undefined : parseIface(options.iface)
  return { proto, port, outsidePort, ...(from && { from }), ...(iface !== undefined && { iface }) }
}

/** firewall.xml's <forward> properties. */
export const FORWARD_PROPERTIES = ['proto', 'port', 'outside_port', 'from', 'iface'] as const

export function forwardFromProperties(untrusted: ReadonlyMap<string, string>): Forward {
  for (const key of untrusted.keys()) {
    if (!(FORWARD_PROPERTIES as readonly string[]).includes(key)) throw new RuleParseError(`unknown forward property '${shown(key)}'`)
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
