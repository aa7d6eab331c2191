// The connectivity matrix: every qube tries every destination for real, at once.
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { nsExec } from './system.js'
import { DESTINATIONS, OUTSIDE, QUBES, VIRTUAL_DNS, ip4, qidOf } from './topology.js'
import { layoutTable } from '../common/table.js'

const PROBE = join(dirname(fileURLToPath(import.meta.url)), 'probe.js')

export type Cell = 'allowed' | 'refused' | 'timed out' | 'closed' | 'no netvm'

/** The probe target for a destination, with names resolved from the topology (the matrix tests the firewall, not DNS). */
function target(destination: (typeof DESTINATIONS)[number]): string {
  if (destination.host === 'dns') return `dns:${VIRTUAL_DNS[0]}:www.lab.example`
  const address = OUTSIDE.names[destination.host] ?? (QUBES.some((q) => q.name === destination.host) ? ip4(qidOf(destination.host)) : destination.host)
  return `tcp:${address}:${destination.port}`
}

/** How long a probe waits before calling a destination "timed out" (a drop): QUBES_LAB_PROBE_TIMEOUT_MS or 2 s. */
export function probeTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const wanted = Number(env['QUBES_LAB_PROBE_TIMEOUT_MS'])
  return Number.isInteger(wanted) && wanted > 0 ? wanted : 2000
}

export async function probeMatrix(timeoutMs = probeTimeoutMs()): Promise<Map<string, Map<string, Cell>>> {
  const rows = await Promise.all(
    QUBES.filter((q) => !q.providesNetwork).map(async (qube): Promise<[string, Map<string, Cell>]> => {
      const cells = new Map<string, Cell>()
      if (qube.netvm === null) {
        for (const d of DESTINATIONS) cells.set(d.label, 'no netvm')
        return [qube.name, cells]
      }
      const targets = DESTINATIONS.map(target)
      const out = await nsExec(qube.name, process.execPath, [PROBE, '--timeout', String(timeoutMs), ...targets])
      const verdicts = new Map(out.split('\n').map((line) => {
        const space = line.indexOf(' ')
        return [line.slice(0, space), line.slice(space + 1) as Cell]
      }))
      DESTINATIONS.forEach((d, i) => cells.set(d.label, verdicts.get(targets[i] as string) ?? 'timed out'))
      return [qube.name, cells]
    }),
  )
  return new Map(rows)
}

const COLOURS: Record<Cell, string> = { allowed: '32', refused: '31', 'timed out': '33', closed: '35', 'no netvm': '90' }

export function formatMatrix(matrix: Map<string, Map<string, Cell>>, colour: boolean): string {
  const header = ['QUBE', ...DESTINATIONS.map((d) => d.label)]
  const rows = [...matrix].map(([qube, cells]) => [qube, ...DESTINATIONS.map((d) => cells.get(d.label) ?? '?')])
  const text = layoutTable([header, ...rows])
  if (!colour) return text
  return text.replace(/\b(allowed|refused|timed out|closed|no netvm)\b/g, (cell) => `\x1b[${COLOURS[cell as Cell]}m${cell}\x1b[0m`)
}
