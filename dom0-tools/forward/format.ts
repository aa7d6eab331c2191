// Forwards for people (`forward list`) and for firewall.xml.
import { layoutTable } from '../../common/table.js'
import { formatDstHost } from '../../common/rule/values.js'
import type { Forward } from './model.js'

export function forwardProperties(forward: Forward): [string, string][] {
  const props: [string, string][] = [['proto', forward.proto], ['port', String(forward.port)]]
  if (forward.outsidePort !== forward.port) props.push(['outside_port', String(forward.outsidePort)])
  if (forward.from) props.push(['from', formatDstHost(forward.from)])
  if (forward.iface !== undefined) props.push(['iface', forward.iface])
  return props
}

export function formatForwardTable(forwards: readonly Forward[]): string {
  const header = ['NO', 'PROTOCOL', 'PORT', 'OUTSIDE PORT', 'FROM', 'INTERFACE']
  const rows = forwards.map((f, i) => [String(i), f.proto, String(f.port), String(f.outsidePort), f.from ? formatDstHost(f.from) : '-', f.iface ?? '-'])
  return layoutTable([header, ...rows])
}
