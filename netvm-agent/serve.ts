// The daemon, wired: restores the last good push, runs the hooks once the rules are in place, then
// takes requests on a 0600 Unix socket (daemon/listener.ts), one at a time. Each change is
// persisted (daemon/state.ts) before it is answered. SIGTERM leaves the rules in force.
import { join } from 'node:path'
import { childProcess } from '../common/builtins.js'
import { customPersistEnabled, firewallHookPaths, runHooks } from '../common/hooks.js'
import { shown, UNTRUSTED_KEY_LIMIT } from '../common/untrusted-text.js'
import { Agent, type AgentEffects, type ApplyResult } from './agent.js'
import { applyChange, removeVms, restoredPush } from './daemon/changes.js'
import { ExpiryTimer } from './daemon/expiry.js'
import { NameRefresher } from './daemon/refresher.js'
import { refreshPolicy, type RefreshPolicy } from './names/name-state.js'
import type { Channel } from './daemon/connection.js'
import { listen } from './daemon/listener.js'
import { parseRequest, RequestError, type Response } from './daemon/protocol.js'
import { serialised, thenSoonAfter, type Exclusive } from './daemon/serial.js'
import { PersistedState, type Entries } from './daemon/state.js'
import { status } from './daemon/status.js'
import type { Drop } from './droplog/attribute.js'
import { DropLog } from './droplog/drop-log.js'
import { realEffects } from './effects.js'
import { failureLine } from './failure-line.js'
import { Observer } from './observe.js'
import type { AgentOptions } from './options.js'
import { parsePush } from './push/parse.js'
import { startQubesDbSource, type QubesDbDaemonSource } from './qubesdb/daemon-source.js'

export { PersistedState, restoredPush }

const HOOK_TIMEOUT_MS = 60_000
/**
 * The clean-up after updates deletes (and any deletion makes the kernel wait ~15-20 ms): it waits
 * until no request came for this long, so that updates sent back to back pay none of it. (An update
 * of a VM whose last update is not cleaned up yet cleans up first, in the agent.)
 */
const CLEANUP_WHEN_IDLE_MS = 100

function log(message: string): void {
  process.stderr.write(`qubes-firewall-agent: ${message}\n`)
}

/** What answers the read-only ops; without them (tests of the changes alone) those ops are refused. */
export interface Observers {
  readonly observer?: Observer
  readonly dropLog?: DropLog
  readonly channel?: Channel
  readonly refresher?: NameRefresher
}

/** One request line -> its answer. Changes are persisted in `state` once the agent took them. */
export async function handleRequest(agent: Agent, state: PersistedState, untrustedLine: string, observers: Observers = {}): Promise<Response> {
  try {
    const request = parseRequest(untrustedLine)
    switch (request.op) {
      case 'replace':
      case 'update':
        return await applyChange(agent, state, request.op, request.untrustedEntries)
      case 'remove':
        return await removeVms(agent, state, request.ips)
      case 'status':
        return { ...status(agent, observers.refresher), ...(observers.dropLog && { dropLog: observers.dropLog.state }) }
      case 'hits':
        return observers.observer ? await observers.observer.hits(request.ip) : { ok: false, error: 'hits are not kept here' }
      case 'check':
        return observers.observer ? observers.observer.check(request.ip, request.probe) : { ok: false, error: 'check is not answered here' }
      case 'log':
        return dropLogAnswer(request, observers)
    }
  } catch (err) {
    if (err instanceof RequestError) return { ok: false, error: err.message }
    throw err
  }
}

/** The drops kept; with follow, every later one as a line of its own until the client goes. */
function dropLogAnswer(request: { ip?: string; follow: boolean }, { dropLog, channel }: Observers): Response {
  if (dropLog === undefined) return { ok: false, error: 'no drop log here' }
  const mine = (drop: Drop) => request.ip === undefined || drop.vm === request.ip
  if (request.follow && channel !== undefined) {
    channel.keepOpen()
    const unfollow = dropLog.follow((drop) => mine(drop) && channel.send({ ok: true, drop }))
    void channel.closed.then(unfollow)
  }
  return { ok: true, state: dropLog.state, drops: dropLog.recent(request.ip) }
}

/** Type=notify: systemd-notify, run as our child (the unit has NotifyAccess=all). */
async function notifySystemd(): Promise<void> {
  if (!process.env['NOTIFY_SOCKET']) return
  await new Promise<void>((resolve) => childProcess().spawn('systemd-notify', ['--ready'], { stdio: 'ignore' }).on('close', () => resolve()).on('error', () => resolve()))
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

/** Qubes' order: the hooks run once the rules are in place, so there is no moment without them. */
async function runFirewallHooks(opts: AgentOptions): Promise<void> {
  const hooks = firewallHookPaths(
    opts.rwDir,
    process.env['QUBES_FIREWALL_SYSTEM_HOOKS'] ?? '/etc/qubes/qubes-firewall.d',
    customPersistEnabled(process.env['QUBES_SERVICE_DIR'] ?? '/var/run/qubes-service'),
  )
  await runHooks(hooks, HOOK_TIMEOUT_MS, (r) =>
    log(`hook ${r.path}: ${r.timedOut ? 'timed out' : `exit ${r.exitCode}`}${r.output.trim() ? `: ${shown(r.output.trim().split('\n').join(' | '), UNTRUSTED_KEY_LIMIT)}` : ''}`),
  )
}

/** Runs `work` once nothing was busy for `ms`: each busy() puts it off, each quiet() starts the wait again. */
function whenIdle(ms: number, work: () => void): { busy(): void; quiet(): void } {
  let timer: NodeJS.Timeout | undefined
  return {
    busy: () => clearTimeout(timer),
    quiet: () => {
      clearTimeout(timer)
      timer = setTimeout(work, ms)
    },
  }
}

interface Background {
  readonly refresher: NameRefresher
  /** After every change: the timers move on, the clean-up waits for a quiet moment. */
  afterChange(): void
  /** A request came: the clean-up waits. */
  busy(): void
  stop(): void
}

/** What the daemon does between requests: rule expiries, names followed, and the clean-up once quiet. */
function startBackground(agent: Agent, state: PersistedState, fx: AgentEffects, policy: RefreshPolicy, exclusive: Exclusive, qubesDb: QubesDbDaemonSource | undefined): Background {
  const expiry = new ExpiryTimer(() => agent.loadedVms().withExpiries(), () => exclusive(() => agent.reapply()))
  const idle = whenIdle(CLEANUP_WHEN_IDLE_MS, () => {
    if (agent.hasGarbage()) void exclusive(() => agent.collectGarbage()).catch((err: Error) => log(`clean-up failed: ${err.message}`))
    if (state.compactionDue()) void exclusive(() => state.compact()).catch((err: Error) => log(`compacting the state failed: ${err.message}`))
  })
  // the refresh's own change went through `exclusive`, so afterChange (below) runs for it
  const refresher = new NameRefresher(agent, fx, exclusive, policy, log, (moved) => {
    void qubesDb?.namesMoved(moved).catch((err: Error) => log(`writing /dns/ failed: ${err.message}`))
  })
  return {
    refresher,
    afterChange: () => {
      // it runs on its own once the answer is out: an error must not end the daemon
      try {
        expiry.schedule()
        refresher.schedule()
      } catch (err) {
        log(`scheduling expiries and refreshes failed: ${(err as Error).message}`)
      }
      // the clean-up and the state's compaction wait for a quiet moment
      idle.quiet()
    },
    busy: () => idle.busy(),
    stop: () => {
      expiry.stop()
      refresher.stop()
      idle.busy()
    },
  }
}

/** Resolves at SIGTERM or SIGINT. */
function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve())
    process.once('SIGINT', () => resolve())
  })
}

export async function serve(opts: AgentOptions): Promise<void> {
  const policy = refreshPolicy(opts.refreshMinTtl, opts.refreshMaxTtl, opts.grace)
  const fx = realEffects(opts.resolvConf, { nftSession: true })
  const agent = new Agent(fx)
  const state = new PersistedState(opts.stateDir)
  const observer = new Observer(agent, fx)
  const dropLog = new DropLog({
    vms: () => agent.loadedVms(),
    context: () => ({ now: fx.now(), nameservers: fx.nameservers() }),
    log,
    readerRecord: join(opts.stateDir, 'drop-log-reader'),
  })
  // every change, whoever asks (the socket, QubesDB, SIGHUP, an expiry, a refresh), moves the background on
  let background: Background | undefined
  const exclusive = thenSoonAfter(serialised(), () => background?.afterChange())
  await restore(agent, state)
  await runFirewallHooks(opts)
  dropLog.start()

  // QubesDB's watch starts once the persisted rules are in force and the hooks ran, as in Qubes
  const qubesDb = opts.source === 'qubesdb' ? startQubesDbSource(agent, state, exclusive, log) : undefined
  const { refresher, afterChange, busy, stop } = (background = startBackground(agent, state, fx, policy, exclusive, qubesDb))
  afterChange()
  const listener = await listen(opts.socket, (line, channel) => {
    busy()
    return exclusive(() => handleRequest(agent, state, line, { observer, dropLog, channel, refresher }))
  })
  log(`listening on ${opts.socket}`)
  // SIGHUP: everything rendered again, then every name asked again (as a refresh: graces kept)
  process.on('SIGHUP', () =>
    void exclusive(() => agent.reapply())
      .then((r) => log(`reloaded: ${r.ok ? 'ok' : r.error ?? 'with failures'}`))
      .then(() => refresher.refresh(true)),
  )
  await notifySystemd()

  await stopSignal()
  stop()
  qubesDb?.stop()
  listener.close()
  await dropLog.stop()
  state.close()
  // rules stay in force: fail closed, unlike Qubes' agent which deletes its table
  process.exit(0)
}
