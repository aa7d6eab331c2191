// Port forwards as the agent reads them (/qubes-firewall-forward/NNNN): one that does not parse is
// left out (a forward opens, so leaving it out is closed) and reported, never a crash.
import { RuleParseError } from '../../common/errors.js'
import { parseForwardFrom, parseForwardProto, parseIface } from '../../common/rule/forward-values.js'
import { parseServicePort } from '../../common/rule/port.js'
import { FORWARD } from '../../common/qubesdb/keys.js'
import { shown } from '../../common/untrusted-text.js'
import type { ForwardRule } from './model.js'
import { qdbOptions } from './qdb-options.js'
import { parseVmIp } from './vm-ip.js'

const FORWARD_OPTIONS = new Set(['proto', 'dport', 'to', 'toport', 'from', 'iface'])

/** One `/qubes-firewall-forward/NNNN` value: `proto=tcp dport=8443 to=10.137.0.2 toport=443 [from=NET] [iface=IF]`. */
export function parseForwardRule(id: string, untrustedValue: string): ForwardRule {
  const options = qdbOptions(untrustedValue, FORWARD_OPTIONS)
  const proto = parseForwardProto(options.get('proto'))
  const target = parseVmIp(options.get('to') ?? '')
  if (!target) throw new RuleParseError(`invalid to '${shown(options.get('to') ?? '')}' (expected an IP address)`)
  let from: ForwardRule['from']
  const untrustedFrom = options.get('from')
  if (untrustedFrom !== undefined) {
    const host = parseForwardFrom(untrustedFrom)
    if ((host.kind === 'ip4' ? 4 : 6) !== target.family) throw new RuleParseError(`from '${shown(untrustedFrom)}' is not of the family of to`)
    from = { address: host.address.toString(), prefix: host.prefix }
  }
  const untrustedIface = options.get('iface')
  const iface = untrustedIface === undefined ? undefined : parseIface(untrustedIface)
  const dport = parseServicePort('dport', options.get('dport') ?? '')
  const toport = parseServicePort('toport', options.get('toport') ?? '')
  return { id, family: target.family, proto, dport, to: target.ip, toport, ...(from && { from }), ...(iface !== undefined && { iface }) }
}

export interface ParsedForwards {
  /** By id. */
  readonly forwards: ForwardRule[]
  readonly forwardErrors: { id: string; error: string }[]
  /** Keys of entries that are no forward: not NNNN, or pushed without /qubes-firewall-forward. */
  readonly ignored: string[]
}

/** A push's forward entries (NNNN -> value); they count only when `present`: the push carries /qubes-firewall-forward. */
export function parseForwards(untrustedEntries: ReadonlyMap<string, string>, present: boolean): ParsedForwards {
  const parsed: ParsedForwards = { forwards: [], forwardErrors: [], ignored: [] }
  for (const [untrustedId, untrustedValue] of untrustedEntries) {
    if (!present || !/^[0-9]{4}$/.test(untrustedId)) {
      parsed.ignored.push(`${FORWARD}/${untrustedId}`)
      continue
    }
    try {
      parsed.forwards.push(parseForwardRule(untrustedId, untrustedValue))
    } catch (err) {
      if (!(err instanceof RuleParseError)) throw err
      parsed.forwardErrors.push({ id: untrustedId, error: err.message })
    }
  }
  parsed.forwards.sort((a, b) => (a.id < b.id ? -1 : 1))
  return parsed
}
