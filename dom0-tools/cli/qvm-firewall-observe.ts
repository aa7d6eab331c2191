// qvm-firewall's actions that ask the netvm's agent what it sees, changing nothing: `--hits` (HITS
// and LAST columns of the list), `check` (which rule decides a packet) and `log [--follow]` (the VM's
// dropped packets). A VM with IPv4 and IPv6 addresses has a chain for each at the agent: both are
// asked. Loaded only when one of them runs.
import { UsageError } from '../../common/errors.js'
import { formatDrop, type Drop } from '../../common/observe/drop.js'
import { nowEpoch } from '../../common/rule/model.js'
import { shown, UNTRUSTED_KEY_LIMIT } from '../../common/untrusted-text.js'
import type { Domain, Registry } from '../registry/registry.js'
import type { Column, Footer } from '../rule/format-table.js'
import { askAgent, observedVm, readAnswer, streamFromAgent, type ObservedVm } from '../observe/agent.js'
import type { Decision } from '../../common/observe/decision.js'
import { AnswerError, parseDecision, parseExpired, parseHits, parseLogLine, type LogLine } from '../observe/answers.js'
import { hitColumns, listNumber, sumHits } from '../observe/hits.js'
import { checkRequest, type Probe } from '../observe/probe.js'

type LogStart = Extract<LogLine, { kind: 'start' }>

// the rules' expiries, to number rules as `list` does now (hits.ts)
const STATUS = { op: 'status' }

const warn = (message: string) => process.stderr.write(`qvm-firewall: warning: ${message}\n`)

/** `--hits`: the HITS and LAST columns, and the policy row, for `vm`'s table. */
export async function hitsColumns(vm: Domain, registry: Registry): Promise<{ columns: Column[]; footers: Footer[] }> {
  const observed = observedVm(registry, vm, 'hits need')
  const [untrustedStatus, ...untrustedHits] = await askAgent(observed, [STATUS, ...observed.ips.map((ip) => ({ op: 'hits', ip }))])
  const now = nowEpoch()
  return readAnswer(observed, () => {
    const chains = observed.ips.map((ip, i) => parseHits(untrustedHits[i], ip))
    return hitColumns(sumHits(chains, parseExpired(untrustedStatus, observed.ips, now)), now)
  })
}

/** `ACTION: REASON`, the deciding rule numbered as `list` numbers it now. */
function describeDecision(decision: Decision, expiredSincePush: ReadonlySet<number>): string {
  const { action, by, reason } = decision
  if (typeof by !== 'object') return `${action}: ${reason}`
  const no = listNumber(by.rule, expiredSincePush)
  const pushed = `rule ${by.rule}:`
  return `${action}: ${no !== undefined && reason.startsWith(pushed) ? `rule ${no}:${reason.slice(pushed.length)}` : reason}`
}

/** `check DEST [PROTO [PORT]]`: which rule decides a packet from the VM to DEST, and why. */
export async function qvmFirewallCheck(vm: Domain, registry: Registry, probe: Probe): Promise<void> {
  const observed = observedVm(registry, vm, 'check needs')
  const ip = probe.family === 4 ? observed.ip : observed.ip6
  if (ip === undefined) throw new UsageError(`${vm.name} has no IPv${probe.family} address to check ${probe.dst} from`)
  const [untrustedStatus, untrustedDecision] = await askAgent(observed, [STATUS, checkRequest(probe, ip)])
  const now = nowEpoch()
  const line = readAnswer(observed, () => describeDecision(parseDecision(untrustedDecision, ip), parseExpired(untrustedStatus, observed.ips, now)))
  process.stdout.write(`${line}\n`)
}

const printDrop = (drop: Drop) => process.stdout.write(`${formatDrop(drop)}\n`)

/** The first answers of every address: the log's state if it is not listening, then the drops kept, oldest first. */
function printStarts(observed: ObservedVm, starts: readonly LogStart[]): void {
  for (const state of new Set(starts.map((s) => s.state))) if (state !== 'listening') warn(`the drop log of ${observed.netvm} is ${state}`)
  for (const message of starts.flatMap((s) => s.unreadable)) warn(message)
  const drops = starts.flatMap((s) => s.drops).map((drop, i) => ({ drop, i, time: Date.parse(drop.time) }))
  drops.sort((a, b) => a.time - b.time || a.i - b.i)
  for (const { drop } of drops) printDrop(drop)
}

function logStart(untrusted: unknown): LogStart {
  const line = parseLogLine(untrusted)
  if (line.kind !== 'start') throw new AnswerError('a drop came in place of the log\'s first answer')
  return line
}

function untrustedJson(untrustedLine: string): unknown {
  try {
    return JSON.parse(untrustedLine) as unknown
  } catch {
    throw new AnswerError(`a line is not JSON: ${shown(untrustedLine, UNTRUSTED_KEY_LIMIT)}`)
  }
}

/** The kept drops, then every new one as it comes, until SIGINT (exit 0) or the agent's side ends (an error). */
async function followLog(observed: ObservedVm, requests: readonly object[]): Promise<void> {
  const starts: LogStart[] = []
  // a drop of the first address may come before the second address's first answer
  const early: Drop[] = []
  const onLine = (untrustedLine: string) => {
    const line = parseLogLine(untrustedJson(untrustedLine))
    if (line.kind === 'unreadable') warn(line.message)
    else if (line.kind === 'drop') (starts.length < requests.length ? early.push(line.drop) : printDrop(line.drop))
    else if (starts.push(line) === requests.length) {
      printStarts(observed, starts)
      early.splice(0).forEach(printDrop)
    }
  }
  let close = () => {}
  const stop = () => close()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  // a reader that went away (`| head`) ends it too
  process.stdout.on('error', stop)
  try {
    const how = await streamFromAgent(observed, requests, onLine, (closeStream) => (close = closeStream))
    if (how === 'ended') throw new Error(`the agent of ${observed.netvm} ended the drop log`)
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}

/** `log [--follow]`: the drops of the VM's addresses, as the agent's own `log` prints them. */
export async function qvmFirewallLog(vm: Domain, registry: Registry, follow: boolean): Promise<void> {
  const observed = observedVm(registry, vm, 'log needs')
  const requests = observed.ips.map((ip) => ({ op: 'log', ip, follow }))
  if (follow) return followLog(observed, requests)
  const answers = await askAgent(observed, requests)
  printStarts(observed, readAnswer(observed, () => answers.map(logStart)))
}
