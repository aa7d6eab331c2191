// One line of the drop log, as the agent keeps it and as dom0 receives it: the type, the one way it is
// printed (by the agent's `log` and dom0's `qvm-firewall VM log` alike), and the parser dom0 reads
// an agent's answer with (an answer from a VM is untrusted).
import { shown } from '../untrusted-text.js'

export interface Drop {
  /** ISO time the kernel logged it. */
  readonly time: string
  /** The source address: the VM's, when it is one the agent serves. */
  readonly vm: string
  /** The rule number, `policy`, `blocked` (rules did not parse), or `unknown` (no VM of ours, or rules changed since). */
  readonly rule: number | 'policy' | 'blocked' | 'unknown'
  readonly proto: string
  readonly src: string
  readonly dst: string
  readonly sport?: number
  readonly dport?: number
  readonly icmpType?: number
}

const endpoint = (address: string, port: number | undefined) =>
  port === undefined ? address : address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`

/** `TIME VM rule N PROTO SRC -> DST`, e.g. `2026-12-04T18:30:01.123Z 10.137.0.2 rule 3 tcp 10.137.0.2:40000 -> 192.0.2.10:22`. */
export function formatDrop(drop: Drop): string {
  const rule = typeof drop.rule === 'number' ? `rule ${drop.rule}` : drop.rule
  const icmp = drop.icmpType === undefined ? '' : ` type ${drop.icmpType}`
  return `${drop.time} ${drop.vm} ${rule} ${drop.proto}${icmp} ${endpoint(drop.src, drop.sport)} -> ${endpoint(drop.dst, drop.dport)}`
}

const ADDRESS = /^[0-9a-fA-F.:]{2,45}$/
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,3})?Z$/
const isPort = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= 65535

/** An untrusted drop (an agent's answer) as a Drop, or undefined when any field is off. */
export function parseDrop(untrusted: unknown): Drop | undefined {
  if (typeof untrusted !== 'object' || untrusted === null) return undefined
  const d = untrusted as Record<string, unknown>
  const rule = d['rule']
  const ruleOk = (Number.isSafeInteger(rule) && (rule as number) >= 0) || rule === 'policy' || rule === 'blocked' || rule === 'unknown'
  const strings = [d['time'], d['vm'], d['proto'], d['src'], d['dst']]
  if (!ruleOk || !strings.every((s) => typeof s === 'string')) return undefined
  const [time, vm, proto, src, dst] = strings as string[]
  if (!TIME.test(time!) || ![vm, src, dst].every((a) => ADDRESS.test(a!)) || !/^[a-z0-9]{1,10}$/.test(proto!)) return undefined
  for (const key of ['sport', 'dport']) if (d[key] !== undefined && !isPort(d[key])) return undefined
  const icmpType = d['icmpType']
  if (icmpType !== undefined && !(Number.isSafeInteger(icmpType) && (icmpType as number) >= 0 && (icmpType as number) <= 255)) return undefined
  return {
    time: time!, vm: vm!, rule: rule as Drop['rule'], proto: proto!, src: src!, dst: dst!,
    ...(d['sport'] !== undefined && { sport: d['sport'] as number }),
    ...(d['dport'] !== undefined && { dport: d['dport'] as number }),
    ...(icmpType !== undefined && { icmpType: icmpType as number }),
  }
}

/** A drop that did not parse, shown safely. */
export const unreadableDrop = (untrusted: unknown): string => `unreadable drop from the agent: ${shown(JSON.stringify(untrusted) ?? '', 120)}`
