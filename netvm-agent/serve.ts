// The daemon, wired: restores the last good push, runs the hooks once the rules are in place, then
// takes requests on a 0600 Unix socket (daemon/connection.ts), one at a time. Each change is
// persisted (daemon/state.ts) before it is answered. SIGTERM leaves the rules in force.
import { chmodSync, mkdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname } from 'node:path'
import { spawn } from 'node:child_process'
import { customPersistEnabled, firewallHookPaths, runHooks } from '../common/hooks.js'
import { Agent, type ApplyResult } from './agent.js'
import { applyChange, removeVms, restoredPush } from './daemon/changes.js'
import { serveConnection } from './daemon/connection.js'
import { ExpiryTimer } from './daemon/expiry.js'
import { parseRequest, RequestError, type Response } from './daemon/protocol.js'
import { PersistedState, type Entries } from './daemon/state.js'
import { realEffects } from './effects.js'
import { startQubesDbSource } from './qubesdb/daemon-source.js'
import { PushError } from './errors.js'
import type { AgentOptions } from './options.js'
import { parsePush } from './push/parse.js'
import { failureLine } from './failure-line.js'
import { shown, UNTRUSTED_KEY_LIMIT } from '../common/untrusted-text.js'

export { PersistedState, restoredPush }

const HOOK_TIMEOUT_MS = 60_000
const MAX_LINE = 64 * 1024 * 1024
/**
 * The clean-up after updates deletes (and any deletion makes the kernel wait ~15-20 ms): it waits
 * until no request came for this long, so that updates sent back to back pay none of it. (An update
 * of a VM whose last update is not cleaned up yet cleans up first, in the agent.)
 */
const CLEANUP_WHEN_IDLE_MS = 100
/** Clients at once; one more gets one error line and is closed (dom0 uses one or two). */
const MAX_CONNECTIONS = 64

function log(message: string): void {
  process.stderr.write(`qubes-firewall-agent: ${message}\n`)
}

/** One request line -> its answer. Changes are persisted in `state` once the agent took them. */
export async function handleRequest(agent: Agent, state: PersistedState, untrustedLine: string): Promise<Response> {
  try {
    const request = parseRequest(untrustedLine)
    switch (request.op) {
      case 'replace':
      case 'update':
        return await applyChange(agent, state, request.op, parsePush(request.untrustedEntries), request.untrustedEntries as Entries)
      case 'remove':
        return await removeVms(agent, state, request.ips)
      case 'status':
        return status(agent)
    }
  } catch (err) {
    if (err instanceof PushError || err instanceof RequestError) return { ok: false, error: err.message }
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

/** Type=notify: systemd-notify, run as our child (the unit has NotifyAccess=all). */
async function notifySystemd(): Promise<void> {
  if (!process.env['NOTIFY_SOCKET']) return
  await new Promise<void>((resolve) => spawn('systemd-notify', ['--ready'], { stdio: 'ignore' }).on('close', () => resolve()).on('error', () => resolve()))
}

/** The persisted rules into the kernel, or every VM blocked until dom0 pushes. */
async function restore(agent: Agent, state: PersistedState): Promise<void> {
  let restored: ApplyResult
  let saved: Entries | undefined
  try {
    saved = state.load()
    const { push, cached } = restoredPush(saved ?? {})
    restored = await agent.restore(push, cached)
  } catch (err) {
    log(`persisted state unreadable (${(err as Error).message}); blocking every VM until dom0 pushes`)
    saved = {}
    restored = await agent.replace(parsePush({}))
  }
  try {
    state.restore(saved ?? {})
  } catch (err) {
    // a full disk: the files stay as they are, and say what is in force
    log(`could not rewrite the state (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); it stays as it was`)
  }
  for (const f of restored.failed) log(failureLine(f))
  if (restored.error) log(`restoring failed: ${restored.error}`)
}

export async function serve(opts: AgentOptions): Promise<void> {
  const agent = new Agent(realEffects(opts.resolvConf, { nftSession: true }))
  const state = new PersistedState(opts.stateDir)
  // one change at a time, whoever asks: the socket's clients, SIGHUP, expiry
  let serial = Promise.resolve<unknown>(undefined)
  const exclusive = <T>(work: () => Promise<T> | T): Promise<T> => {
    const next = serial.then(work, work)
    serial = next.catch(() => undefined)
    return next
  }

  // restore before anything else; hooks run only once the rules are in place: no bypass window
  await restore(agent, state)
  const hooks = firewallHookPaths(
    opts.rwDir,
    process.env['QUBES_FIREWALL_SYSTEM_HOOKS'] ?? '/etc/qubes/qubes-firewall.d',
    customPersistEnabled(process.env['QUBES_SERVICE_DIR'] ?? '/var/run/qubes-service'),
  )
  await runHooks(hooks, HOOK_TIMEOUT_MS, (r) =>
    log(`hook ${r.path}: ${r.timedOut ? 'timed out' : `exit ${r.exitCode}`}${r.output.trim() ? `: ${shown(r.output.trim().split('\n').join(' | '), UNTRUSTED_KEY_LIMIT)}` : ''}`),
  )

  // QubesDB's watch starts once the persisted rules are in force and the hooks ran, as in Qubes
  const qubesDb = opts.source === 'qubesdb' ? startQubesDbSource(agent, state, exclusive, log) : undefined
  const expiry = new ExpiryTimer(() => agent.loadedVms().values(), () => exclusive(() => agent.reapply()))
  expiry.schedule()
  let cleanupTimer: NodeJS.Timeout | undefined
  const cleanUpWhenIdle = () => {
    clearTimeout(cleanupTimer)
    cleanupTimer = setTimeout(() => {
      if (agent.hasGarbage()) void exclusive(() => agent.collectGarbage()).catch((err: Error) => log(`clean-up failed: ${err.message}`))
      if (state.compactionDue()) void exclusive(() => state.compact()).catch((err: Error) => log(`compacting the state failed: ${err.message}`))
    }, CLEANUP_WHEN_IDLE_MS)
  }
  const handle = async (line: string): Promise<Response> => {
    clearTimeout(cleanupTimer)
    const response = await exclusive(() => handleRequest(agent, state, line))
    expiry.schedule()
    // the answer is out first; the clean-up and the state's compaction wait for a quiet moment
    cleanUpWhenIdle()
    return response
  }

  mkdirSync(dirname(opts.socket), { recursive: true, mode: 0o700 })
  rmSync(opts.socket, { force: true })
  let connections = 0
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    if (connections >= MAX_CONNECTIONS) {
      socket.on('error', () => socket.destroy())
      socket.end(`${JSON.stringify({ ok: false, error: `too many connections (at most ${MAX_CONNECTIONS})` })}\n`)
      return
    }
    connections++
    socket.once('close', () => connections--)
    serveConnection(socket, handle, MAX_LINE)
  })
  // the socket is 0600 from its first moment: created under a umask that leaves nothing for others
  const oldUmask = process.umask(0o177)
  await new Promise<void>((resolve, reject) => server.listen(opts.socket, resolve).once('error', reject))
  process.umask(oldUmask)
  chmodSync(opts.socket, 0o600)
  log(`listening on ${opts.socket}`)

  process.on('SIGHUP', () => void exclusive(() => agent.reapply()).then((r) => log(`reloaded: ${r.ok ? 'ok' : r.error ?? 'with failures'}`)))
  await notifySystemd()
  await new Promise<void>((resolve) => {
    const stop = () => {
      expiry.stop()
      qubesDb?.stop()
      clearTimeout(cleanupTimer)
      server.close()
      rmSync(opts.socket, { force: true })
      resolve()
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
  })
  state.close()
  // rules stay in force: fail closed, unlike Qubes' agent which deletes its table
  process.exit(0)
}
