// What each qubes-firewall-agent subcommand does; cli.ts loads this only when one runs, so that
// --help stays cheap.
import { formatAge } from '../common/observe/age.js'
import { formatDrop, type Drop } from '../common/observe/drop.js'
import { layoutTable } from '../common/table.js'
import { shown, UNTRUSTED_KEY_LIMIT } from '../common/untrusted-text.js'
import { Agent, type AgentEffects } from './agent.js'
import { realEffects } from './effects.js'
import { PushError } from './errors.js'
import { failureLine } from './failure-line.js'
import { ordinaryHostReason } from './host-check.js'
import { readKernelFactsAhead } from './kernel-facts.js'
import { refreshPolicy } from './names/name-state.js'
import { NFT_FAMILIES } from './nft/model.js'
import { listNft, withNftStartedAhead } from './nft/run.js'
import type { AgentOptions } from './options.js'
import { parsePush } from './push/parse.js'
import { ask } from './socket-client.js'
import { readStdin } from './stdin.js'

async function readPushFromStdin(): Promise<ReturnType<typeof parsePush>> {
  const untrustedText = await readStdin()
  // (a closed stdin or a directory reaches us as nothing at all)
  if (untrustedText.trim() === '') throw new PushError('no input: the push comes on standard input, as JSON')
  let untrustedPush: unknown
  try {
    untrustedPush = JSON.parse(untrustedText)
  } catch (err) {
    throw new PushError(`input is not JSON: ${shown((err as Error).message, UNTRUSTED_KEY_LIMIT)}`)
  }
  return parsePush(untrustedPush)
}

/** Refuses to create Qubes' base table (input policy drop) on what looks like an ordinary host, unless --force. */
async function checkHost(force: boolean | undefined): Promise<void> {
  const reason = force ? undefined : ordinaryHostReason()
  if (reason === undefined) return
  const listings = await listNft(NFT_FAMILIES.map((family) => ['chain', family, 'qubes', 'custom-forward']))
  const missing = NFT_FAMILIES.filter((_, i) => listings[i] === undefined)
  if (missing.length === 0) return
  throw new Error(
    `refusing to create table ${missing.join('/')} qubes here: its input chain drops all but established traffic and would cut this host off (ssh included); ${reason}. Run the agent in a firewall VM or a network namespace, or pass --force`,
  )
}

/** Prints one line per failure, naming the VM (and rule, and name); exit 1 if any. */
function report(result: Awaited<ReturnType<Agent['replace']>>): void {
  for (const f of result.failed) {
    process.stderr.write(`qubes-firewall-agent: ${failureLine(f)}\n`)
  }
  if (!result.ok) process.exitCode = 1
}

/** Prints the nft transaction for the push on stdin, planned for a namespace where nothing exists yet. */
export async function render(opts: AgentOptions): Promise<void> {
  const push = await readPushFromStdin()
  // the kernel is neither read nor changed
  const fx: AgentEffects = { ...realEffects(opts.resolvConf), runNft: async () => {}, listNft: async (lists) => lists.map(() => undefined) }
  process.stdout.write(await new Agent(fx).render(push))
}

export async function apply(opts: AgentOptions): Promise<void> {
  await checkHost(opts.force)
  const fx = realEffects(opts.resolvConf)
  // while the push is read and parsed: the kernel's facts are read (one nft), and the nft that
  // loads it starts (a push that does not parse ends the command before either is used)
  const factsAhead = readKernelFactsAhead(fx.listNft)
  await withNftStartedAhead(async (runNft) => {
    const push = await readPushFromStdin()
    const result = await new Agent({ ...fx, runNft }).replace(push, factsAhead)
    report(result)
    if (result.ok) process.stdout.write(`qubes-firewall-agent: applied rules of ${result.applied.length} VM(s)\n`)
  })
}

export async function init(opts: AgentOptions): Promise<void> {
  await checkHost(opts.force)
  report(await new Agent(realEffects(opts.resolvConf)).replace({ vms: new Map(), ignored: [] }))
}

/** stdin/stdout joined to the daemon's socket until it closes. */
export async function connect(opts: AgentOptions): Promise<void> {
  const { connect } = await import('node:net')
  await new Promise<void>((resolve, reject) => {
    const socket = connect(opts.socket)
    socket.on('error', reject)
    socket.on('connect', () => process.stdin.pipe(socket))
    socket.pipe(process.stdout)
    socket.on('close', () => resolve())
  })
}

export async function serve(opts: AgentOptions): Promise<void> {
  // a wrong option is named before anything is touched
  refreshPolicy(opts.refreshMinTtl, opts.refreshMaxTtl, opts.grace)
  await checkHost(opts.force)
  const { serve } = await import('./serve.js')
  await serve(opts)
}

/** An answer's error as the command's error (one line). */
function answered(answer: Record<string, unknown>): Record<string, unknown> {
  if (answer['ok'] !== true) throw new Error(String(answer['error'] ?? 'the agent refused'))
  return answer
}

/** The drop log kept by the daemon; with follow, every later drop until interrupted. */
export async function log(opts: AgentOptions & { follow?: boolean; vm?: string }): Promise<void> {
  const print = (drop: unknown) => process.stdout.write(`${formatDrop(drop as Drop)}\n`)
  const follow = opts.follow === true
  const answer = answered(await ask(opts.socket, { op: 'log', follow, ...(opts.vm !== undefined && { ip: opts.vm }) }, follow ? (more) => print((more as { drop: unknown }).drop) : undefined))
  if (answer['state'] !== 'listening') process.stderr.write(`qubes-firewall-agent: drop log ${String(answer['state'])}\n`)
  for (const drop of answer['drops'] as unknown[]) print(drop)
  if (follow) await new Promise<never>(() => {})
}

const age = (last: number | null, now: number) => (last === null ? '-' : formatAge(now - last))

/** A VM's hit counts: packets, bytes and when the count last grew, per rule and for the policy. */
export async function hits(opts: AgentOptions & { vmIp: string }): Promise<void> {
  const answer = answered(await ask(opts.socket, { op: 'hits', ip: opts.vmIp }))
  const now = Math.floor(Date.now() / 1000)
  type Row = { rule?: number; packets: number; bytes: number; last: number | null }
  const rows = [['RULE', 'PACKETS', 'BYTES', 'LAST']]
  for (const r of answer['rules'] as Row[]) rows.push([String(r.rule), String(r.packets), String(r.bytes), age(r.last, now)])
  for (const key of ['policy', 'blocked']) {
    const r = answer[key] as Row | undefined
    if (r !== undefined) rows.push([key, String(r.packets), String(r.bytes), age(r.last, now)])
  }
  process.stdout.write(layoutTable(rows))
}

/** Which rule decides a packet from the VM to DEST (PROTO, PORT or ICMP type), and why. */
export async function check(opts: AgentOptions & { vmIp: string; dest: string; proto?: string; port?: string }): Promise<void> {
  const number = opts.port === undefined ? undefined : Number(opts.port)
  if (number !== undefined && !/^\d{1,5}$/.test(opts.port ?? '')) throw new Error(`invalid port '${shown(opts.port ?? '')}' (expected a number 0-65535)`)
  const l4 = opts.proto === 'icmp' ? { icmpType: number } : { port: number }
  const answer = answered(await ask(opts.socket, { op: 'check', ip: opts.vmIp, dst: opts.dest, proto: opts.proto, ...l4 }))
  process.stdout.write(`${String(answer['action'])}: ${String(answer['reason'])}\n`)
}
