// The daemon: restores the last good push, runs the hooks once the rules are in place, then takes
// requests on a 0600 Unix socket, one JSON line each, answered in order. SIGTERM leaves the rules in force.
import { chmodSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { dirname, join } from 'node:path'
import { execa } from 'execa'
import { atomicWriteFile } from '../common/atomic-write.js'
import { Agent, type ApplyResult } from './agent.js'
import type { Resolution } from '../common/dns/resolver.js'
import type { AgentOptions } from './options.js'
import { realEffects } from './effects.js'
import { PushError } from './errors.js'
import { firewallHookPaths, runHooks } from '../common/hooks.js'
import { parsePush, parseVmIp } from './push/parse.js'

const HOOK_TIMEOUT_MS = 60_000
const MAX_LINE = 64 * 1024 * 1024

type Entries = Record<string, string>

/** Which VM a key belongs to (its IP), or null for a global key such as /connected-ips. */
function keyOwner(key: string): string | null {
  const match = /^\/qubes-firewall(?:-resolved)?\/([^/]+)/.exec(key)
  return match ? (match[1] ?? null) : null
}

function log(message: string): void {
  process.stderr.write(`qubes-firewall-agent: ${message}\n`)
}

/** What the daemon enforces, as the raw entries it was given (plus names it resolved): what it persists. */
export class PersistedState {
  private entries: Entries = {}

  constructor(private readonly file: string) {}

  load(): Entries | undefined {
    try {
      const untrusted = JSON.parse(readFileSync(this.file, 'utf8')) as { entries?: unknown }
      return untrusted.entries as Entries
    } catch {
      return undefined
    }
  }

  /** Records a change: replace swaps everything, update swaps the pushed VMs' keys. */
  record(op: 'replace' | 'update', pushed: Entries, resolutionOf: (vm: string) => ReadonlyMap<string, Resolution> | undefined): void {
    const vms = new Set(Object.keys(pushed).filter((k) => /^\/qubes-firewall\/[^/]+$/.test(k)).map(keyOwner))
    // a push with the forward marker carries the hop's whole set of forwards
    const newForwards = '/qubes-firewall-forward' in pushed
    const base: Entries =
      op === 'replace'
        ? {}
        : Object.fromEntries(
            Object.entries(this.entries).filter(([k]) => !vms.has(keyOwner(k)) && !(newForwards && k.startsWith('/qubes-firewall-forward'))),
          )
    // only what the agent took: keys of a VM without its marker key were ignored, so are not kept
    const taken = Object.entries(pushed).filter(([k]) => keyOwner(k) === null || vms.has(keyOwner(k)))
    const next: Entries = { ...base, ...Object.fromEntries(taken) }
    // keep what each VM's names resolved to, so a restart restores its rules without waiting for DNS
    for (const vm of vms) {
      for (const [name, resolution] of resolutionOf(vm ?? '') ?? []) {
        const key = `/qubes-firewall-resolved/${vm}/${name}`
        if ('addresses' in resolution && next[key] === undefined) next[key] = resolution.addresses.join(' ')
      }
    }
    this.entries = next
    this.save()
  }

  forget(ips: readonly string[]): void {
    this.entries = Object.fromEntries(Object.entries(this.entries).filter(([k]) => !ips.includes(keyOwner(k) ?? '')))
    this.save()
  }

  restore(entries: Entries): void {
    this.entries = entries
  }

  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 })
    atomicWriteFile(this.file, JSON.stringify({ version: 1, entries: this.entries }) + '\n', 0o600)
  }
}

type Response = Record<string, unknown>

/** Names an untrusted value without converting it (an object's own toString could throw). */
function describeValue(untrusted: unknown): string {
  return typeof untrusted === 'string' ? `'${untrusted.slice(0, 40)}'` : `of type ${untrusted === null ? 'null' : typeof untrusted}`
}

export async function handleRequest(agent: Agent, state: PersistedState, untrustedLine: string): Promise<Response> {
  let untrusted: unknown
  try {
    untrusted = JSON.parse(untrustedLine)
  } catch {
    return { ok: false, error: 'request is not JSON' }
  }
  if (typeof untrusted !== 'object' || untrusted === null || Array.isArray(untrusted)) return { ok: false, error: 'request is not a JSON object' }
  const request = untrusted as Record<string, unknown>
  try {
    switch (request['op']) {
      case 'replace':
      case 'update': {
        const op = request['op']
        const push = parsePush(request['entries'])
        const result = op === 'replace' ? await agent.replace(push) : await agent.update(push)
        // VMs that failed closed are kept as pushed too, so that a restart blocks them again
        if (result.error === undefined) state.record(op, request['entries'] as Entries, (vm) => agent.loadedVms().get(vm)?.resolution)
        return { ...result, ...(push.ignored.length > 0 && { ignored: push.ignored }) }
      }
      case 'remove': {
        const untrustedIps = request['ips']
        if (!Array.isArray(untrustedIps) || !untrustedIps.every((ip) => typeof ip === 'string' && parseVmIp(ip))) {
          return { ok: false, error: 'ips must be an array of IP addresses' }
        }
        const ips = untrustedIps.map((ip) => parseVmIp(ip as string)?.ip as string)
        const result = await agent.remove(ips)
        if (result.ok) state.forget(ips)
        return { ...result, removed: ips }
      }
      case 'status':
        return status(agent)
      default:
        return { ok: false, error: `unknown op ${describeValue(request['op'])} (expected replace, update, remove or status)` }
    }
  } catch (err) {
    if (err instanceof PushError) return { ok: false, error: err.message }
    throw err
  }
}

function status(agent: Agent): Response {
  const vms = [...agent.loadedVms()].map(([ip, { entry, resolution, chain }]) => ({
    ip,
    ok: entry.ok,
    chain,
    ...(entry.ok
      ? {
          policy: entry.vm.policy,
          rules: entry.vm.rules.length,
          expiries: entry.vm.rules.filter((r) => r.expire !== undefined).map((r) => ({ rule: r.number, expire: r.expire })),
        }
      : { error: entry.failure.error }),
    resolved: Object.fromEntries([...resolution].map(([name, r]) => [name, 'addresses' in r ? r.addresses : { error: r.error }])),
  }))
  const forwards = agent.loadedForwards().map((f) => ({
    id: f.id, proto: f.proto, dport: f.dport, to: f.to, toport: f.toport,
    ...(f.from && { from: `${f.from.address}/${f.from.prefix}` }), ...(f.iface !== undefined && { iface: f.iface }),
  }))
  return { ok: true, vms, forwards, lastError: agent.lastError }
}

/**
 * Splits a stream into lines and answers each in order. A line over MAX_LINE gets one error answer
 * and the rest of it is skipped; only new data is searched, so a huge line costs linear time.
 */
function serveConnection(socket: Socket, handle: (line: string) => Promise<Response>): void {
  let parts: Buffer[] = []
  let length = 0
  let skipping = false
  let queue = Promise.resolve()
  const answer = (response: () => Promise<Response> | Response) => {
    queue = queue.then(async () => {
      const r = await Promise.resolve()
        .then(response)
        .catch((err: unknown) => ({ ok: false, error: `internal error: ${(err as Error).message}` }))
      if (!socket.destroyed) socket.write(JSON.stringify(r) + '\n')
    })
  }
  socket.on('data', (chunk: Buffer) => {
    let start = 0
    let newline: number
    while ((newline = chunk.indexOf(0x0a, start)) >= 0) {
      const piece = chunk.subarray(start, newline)
      start = newline + 1
      if (skipping) {
        skipping = false
        continue
      }
      const line = Buffer.concat([...parts, piece]).toString('utf8')
      parts = []
      length = 0
      if (line.trim() !== '') answer(() => handle(line))
    }
    if (skipping || start >= chunk.length) return
    parts.push(chunk.subarray(start))
    length += chunk.length - start
    if (length > MAX_LINE) {
      parts = []
      length = 0
      skipping = true
      answer(() => ({ ok: false, error: `request line longer than ${MAX_LINE} bytes` }))
    }
  })
  socket.on('error', () => socket.destroy())
  // a client that is done sending still gets every answer before the connection closes
  socket.on('end', () => void queue.then(() => socket.end()))
}

async function notifySystemd(): Promise<void> {
  if (!process.env['NOTIFY_SOCKET']) return
  await execa('systemd-notify', ['--ready'], { reject: false })
}

export async function serve(opts: AgentOptions): Promise<void> {
  const agent = new Agent(realEffects(opts.resolvConf))
  const state = new PersistedState(join(opts.stateDir, 'state.json'))
  // one change at a time, whoever asks: the socket's clients, SIGHUP, expiry
  let serial = Promise.resolve<unknown>(undefined)
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const next = serial.then(work, work)
    serial = next.catch(() => undefined)
    return next
  }

  // restore before anything else: the persisted rules, or block every VM until dom0 pushes
  const saved = state.load()
  let restored: ApplyResult
  try {
    restored = await agent.replace(parsePush(saved ?? {}))
    if (saved) state.restore(saved)
  } catch (err) {
    log(`persisted state unreadable (${(err as Error).message}); blocking every VM until dom0 pushes`)
    restored = await agent.replace(parsePush({}))
  }
  for (const f of restored.failed) log(`${f.vm}${f.rule !== null ? `: rule ${f.rule}` : ''}: ${f.error}`)
  if (restored.error) log(`restoring failed: ${restored.error}`)

  // hooks run only now that the rules are in place: no window where they could open a bypass
  await runHooks(firewallHookPaths(opts.rwDir, process.env['QUBES_FIREWALL_SYSTEM_HOOKS'] ?? '/etc/qubes/qubes-firewall.d'), HOOK_TIMEOUT_MS, (r) =>
    log(`hook ${r.path}: ${r.timedOut ? 'timed out' : `exit ${r.exitCode}`}${r.output.trim() ? `: ${r.output.trim().split('\n').join(' | ').slice(0, 500)}` : ''}`),
  )

  mkdirSync(dirname(opts.socket), { recursive: true, mode: 0o700 })
  rmSync(opts.socket, { force: true })
  const handle = async (line: string): Promise<Response> => {
    const response = await exclusive(() => handleRequest(agent, state, line))
    // the answer is out first; the clean-up of a one-VM update follows, before the next change
    if (agent.hasGarbage()) void exclusive(() => agent.collectGarbage()).catch((err: Error) => log(`clean-up failed: ${err.message}`))
    return response
  }
  const server = createServer({ allowHalfOpen: true }, (socket) => serveConnection(socket, handle))
  // the socket is 0600 from its first moment: created under a umask that leaves nothing for others
  const oldUmask = process.umask(0o177)
  await new Promise<void>((resolve, reject) => server.listen(opts.socket, resolve).once('error', reject))
  process.umask(oldUmask)
  chmodSync(opts.socket, 0o600)
  log(`listening on ${opts.socket}`)

  let expiryTimer: NodeJS.Timeout | undefined
  const scheduleExpiry = () => {
    clearTimeout(expiryTimer)
    const now = Date.now() / 1000
    const next = Math.min(
      ...[...agent.loadedVms().values()].flatMap(({ entry }) => (entry.ok ? entry.vm.rules.map((r) => r.expire ?? Infinity) : [])).filter((e) => e > now),
    )
    // the kernel already stops matching at expiry; this re-render drops the rule and its connections
    if (Number.isFinite(next)) expiryTimer = setTimeout(() => void exclusive(() => agent.reapply()).then(scheduleExpiry), (next - now) * 1000 + 200)
  }
  scheduleExpiry()
  server.on('connection', (socket) => socket.on('data', () => setTimeout(scheduleExpiry, 50)))

  process.on('SIGHUP', () => void exclusive(() => agent.reapply()).then((r) => log(`reloaded: ${r.ok ? 'ok' : r.error ?? 'with failures'}`)))
  await notifySystemd()
  await new Promise<void>((resolve) => {
    const stop = () => {
      clearTimeout(expiryTimer)
      server.close()
      rmSync(opts.socket, { force: true })
      resolve()
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
  })
  // rules stay in force: fail closed, unlike Qubes' agent which deletes its table
  process.exit(0)
}
