// Ports, read and written one way everywhere: a rule's dstports (Qubes' 0-65535 and ranges), a
// forward's ports and a qubes.ConnectTCP port (1-65535).
import { RuleParseError } from '../errors.js'
import { shown } from '../untrusted-text.js'
import type { Port, PortRange } from './model.js'
import { checkSafe } from './safe-chars.js'

export interface PortForm {
  /** 1 for a port something listens on: port 0 is never one. */
  readonly min?: 0 | 1
  /** Only as String() writes it (no leading zero): for a port matched as text, as qrexec's policy matches its argument. */
  readonly canonical?: boolean
}

const DIGITS = /^[0-9]{1,5}$/

/** A port in decimal, leading zeros allowed as Qubes' int() allows them (unless `canonical`); undefined otherwise. */
export function parsePort(untrusted: string, { min = 0, canonical = false }: PortForm = {}): Port | undefined {
  if (!DIGITS.test(untrusted)) return undefined
  const port = Number(untrusted)
  if (port < min || port > 65535 || (canonical && String(port) !== untrusted)) return undefined
  return port as Port
}

function dstPort(untrusted: string): Port {
  const port = parsePort(untrusted)
  if (port === undefined) throw new RuleParseError(`invalid port '${shown(untrusted)}' (expected a number 0-65535)`)
  return port
}

/** Qubes' dstports: "443" or "1200-1400"; a single port is the range port-port. */
export function parsePortRange(untrusted: string): PortRange {
  const parts = checkSafe('dstports', untrusted).split('-')
  if (parts.length > 2) throw new RuleParseError(`invalid port range '${shown(untrusted)}' (expected PORT or LOW-HIGH)`)
  const from = dstPort(parts[0] ?? '')
  const to = parts.length === 2 ? dstPort(parts[1] ?? '') : from
  if (from > to) throw new RuleParseError(`invalid port range '${shown(untrusted)}' (start above end)`)
  return { from, to }
}

/** One port 1-65535 that a service listens on: a forward's `what` (port, outside port, dport, toport). */
export function parseServicePort(what: string, untrusted: string): Port {
  const port = parsePort(untrusted, { min: 1 })
  if (port === undefined) throw new RuleParseError(`invalid ${what} '${shown(untrusted)}' (expected 1-65535)`)
  return port
}

/**
 * Qubes' two spellings of dstports: `short` as its str() writes them in `qvm-firewall list` and
 * firewall.xml (`443`, `1200-1400`), `range` as its API and QubesDB carry them (`443-443`).
 */
export function formatPortRange(ports: PortRange, form: 'short' | 'range'): string {
  return form === 'short' && ports.from === ports.to ? String(ports.from) : `${ports.from}-${ports.to}`
}
