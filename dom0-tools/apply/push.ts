// Applying in dom0: a VM's rules (expired ones dropped, names resolved unless the agent is to) as
// QubesDB entries, pushed to the agent of the VM's netvm; or everything a netvm serves, at once.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { withLock } from '../store/lock.js'
import { forFamily, resolveAll, type Resolution } from '../../common/dns/resolver.js'
import { parseResolvConf } from '../../common/dns/resolv-conf.js'
import { firewallEntries } from '../firewall/entries.js'
import type { Domain, Registry } from '../registry/registry.js'
import { isExpired, nowEpoch, type EpochSeconds, type Rule } from '../../common/rule/model.js'
import { loadRules } from '../store/firewall-store.js'
import { forwardEntriesFor, hopsOf } from './forwards.js'
import { exchange, parseTransport, TRANSPORT_FEATURE, UnreachableError } from './transport.js'
import type { AgentAnswer, NetvmOutcome } from './outcome.js'
import { CONNECTED_IPS, CONNECTED_IPS6, resolvedKey } from '../../common/qubesdb/keys.js'
import { qubesDbTools, QubesDbError } from '../../common/qubesdb/client.js'
import { NotConfirmedError, pushThroughQubesDb } from './qubesdb-push.js'

export { describeOutcome, type AgentAnswer, type NetvmOutcome } from './outcome.js'

/** Global qubes.xml property: 'agent' makes dom0 pass names through for the agents to resolve (dom0 without network). */
export const RESOLVE_PROPERTY = 'qubes_firewall_resolve'

export interface ApplyOptions {
  qubesDir: string
  registry: Registry
  now?: EpochSeconds
  /** dom0's nameservers; default from $QUBES_FIREWALL_RESOLV_CONF or /etc/resolv.conf. */
  nameservers?: readonly string[]
}

function dom0Nameservers(): string[] {
  try {
    const ns = parseResolvConf(readFileSync(process.env['QUBES_FIREWALL_RESOLV_CONF'] ?? '/etc/resolv.conf', 'utf8'))
    return [...ns[4], ...ns[6]]
  } catch {
    return []
  }
}

function liveRules(rules: readonly Rule[], now: EpochSeconds): Rule[] {
  return rules.filter((r) => !isExpired(r, now))
}

/** The resolutions dom0 adds to a push, unless names are left to the agents. */
async function resolveForPush(rules: readonly Rule[], opts: ApplyOptions): Promise<Map<string, Resolution>> {
  if (opts.registry.globalProperty(RESOLVE_PROPERTY) === 'agent') return new Map()
  const names = rules.flatMap((r) => (r.dsthost?.kind === 'name' ? [r.dsthost.name] : []))
  if (names.length === 0) return new Map()
  return resolveAll(names, { nameservers: opts.nameservers ?? dom0Nameservers() })
}

/** A VM's entries, with `/qubes-firewall-resolved/<ip>/<name>` for each name dom0 resolved ("" when it could not). */
export async function vmPushEntries(vm: Domain, opts: ApplyOptions): Promise<Record<string, string>> {
  const now = opts.now ?? nowEpoch()
  const rules = liveRules(loadRules(opts.qubesDir, vm.name, now), now)
  const entries = firewallEntries({ ip: vm.ip, ip6: vm.ip6 }, rules, now)
  const resolutions = await resolveForPush(rules, opts)
  for (const ip of [vm.ip, vm.ip6]) {
    if (ip === undefined) continue
    for (const [name, answer] of resolutions) {
      const res = forFamily(answer, ip.includes(':') ? 6 : 4)
      entries[resolvedKey(ip, name)] = 'addresses' in res ? res.addresses.join(' ') : ''
    }
  }
  return entries
}

/**
 * Pushes to one netvm happen one at a time, each built (rules read, names resolved) while it holds
 * the netvm's push lock: a push never overtakes a newer one, so the last to arrive carries every
 * change saved before it (two `add`s racing can no longer leave the older rules in force).
 */
// the agent resolves names and loads every VM once at start: as long as a socket push may take
const QUBESDB_CONFIRM_TIMEOUT_MS = 120_000

async function pushInOrder(opts: ApplyOptions, netvm: string, build: () => Promise<object>): Promise<NetvmOutcome> {
  // a push is bounded by the transport's and the resolver's own timeouts: waiting for one is safe
  return withLock(join(opts.qubesDir, `.push-${netvm}.lock`), async () => send(opts.registry, netvm, await build()), { timeoutMs: 600_000 })
}

async function send(registry: Registry, netvm: string, request: object): Promise<NetvmOutcome> {
  try {
    const configured = registry.require(netvm).features[TRANSPORT_FEATURE]
    const transport = parseTransport(configured, netvm)
    if (configured === undefined && transport.kind === 'unix' && !existsSync(transport.path)) return { netvm, status: 'unmanaged' }
    const [untrustedAnswer] = transport.kind === 'qubesdb' ? [await throughQubesDb(transport.domain, request)] : await exchange(transport, [request])
    const answer = (typeof untrustedAnswer === 'object' && untrustedAnswer !== null ? untrustedAnswer : { ok: false, error: 'no answer' }) as AgentAnswer
    return { netvm, status: answer.ok ? 'applied' : 'failed', answer }
  } catch (err) {
    if (err instanceof UnreachableError || err instanceof NotConfirmedError || err instanceof QubesDbError) return { netvm, status: 'unreachable', error: err.message }
    throw err
  }
}

/** A push written into the netvm's QubesDB; the other requests need the agent's socket. */
async function throughQubesDb(domain: string, request: object): Promise<AgentAnswer> {
  const { op, entries } = request as { op: string; entries?: Record<string, string> }
  if ((op !== 'replace' && op !== 'update') || entries === undefined) return { ok: false, error: `'${op}' needs the agent's socket, not QubesDB` }
  return pushThroughQubesDb(qubesDbTools(domain), op, entries, QUBESDB_CONFIRM_TIMEOUT_MS)
}

/**
 * What the VM's names stand for right now in its netvm: the agent's status, for this VM's addresses.
 * Undefined when the agent cannot be asked.
 */
/** What a name stands for in the netvm's agent: its addresses, and when DNS last answered for it. */
export interface NameInNetvm {
  readonly addresses: string
  /** Epoch seconds of the last good answer; absent from agents that do not say. */
  readonly refreshed?: number
  /** The last refreshes failed (its addresses in their grace), or the name failed closed. */
  readonly trouble?: 'failing' | 'failed'
}

/** Each dsthost name of the VM as the netvm's agent holds it (its `status`), or undefined when it could not be asked. */
export async function resolvedInNetvm(vmName: string, opts: ApplyOptions): Promise<Map<string, NameInNetvm> | undefined> {
  const vm = opts.registry.require(vmName)
  if (vm.netvm === undefined) return undefined
  const outcome = await send(opts.registry, vm.netvm, { op: 'status' })
  if (outcome.status !== 'applied') return undefined
  const untrustedVms = (outcome.answer as { vms?: unknown }).vms
  const names = new Map<string, NameInNetvm>()
  for (const untrustedVm of Array.isArray(untrustedVms) ? untrustedVms : []) {
    const entry = untrustedVm as { ip?: unknown; resolved?: Record<string, unknown>; names?: Record<string, unknown> }
    if (entry.ip !== vm.ip && entry.ip !== vm.ip6) continue
    for (const [name, untrustedAnswer] of Object.entries(entry.resolved ?? {})) {
      const shown = Array.isArray(untrustedAnswer) ? untrustedAnswer.filter((a) => typeof a === 'string' && /^[0-9a-f.:]+$/.test(a)) : ['unresolved']
      const addresses = [...(names.get(name)?.addresses.split(' ') ?? []), ...shown].filter((a, i, all) => a !== '' && all.indexOf(a) === i).join(' ')
      names.set(name, { addresses, ...refreshOf(entry.names?.[name]) })
    }
  }
  return names
}

/** A name's refresh as the agent's status gives it (`names.<name>`), kept only where well-formed. */
function refreshOf(untrustedName: unknown): Pick<NameInNetvm, 'refreshed' | 'trouble'> {
  if (typeof untrustedName !== 'object' || untrustedName === null) return {}
  const { answered, failing, error } = untrustedName as { answered?: unknown; failing?: unknown; error?: unknown }
  const refreshed = typeof answered === 'number' && Number.isSafeInteger(answered) && answered > 0 ? { refreshed: answered } : {}
  const trouble = typeof error === 'string' ? { trouble: 'failed' as const } : failing !== undefined ? { trouble: 'failing' as const } : {}
  return { ...refreshed, ...trouble }
}

/** Pushes one VM's rules to its netvm (an `update`): only that VM changes there. */
export async function applyVm(vmName: string, opts: ApplyOptions): Promise<NetvmOutcome | undefined> {
  const vm = opts.registry.require(vmName)
  if (vm.netvm === undefined || (vm.ip === undefined && vm.ip6 === undefined)) return undefined
  return pushInOrder(opts, vm.netvm, async () => ({ op: 'update', entries: await vmPushEntries(vm, opts) }))
}

/** Everything a netvm serves (a `replace`): each connected VM's rules and /connected-ips*. */
export async function syncNetvm(netvmName: string, opts: ApplyOptions): Promise<NetvmOutcome> {
  const netvm = opts.registry.require(netvmName)
  const connected = opts.registry.connectedTo(netvm.name).filter((vm) => vm.ip !== undefined || vm.ip6 !== undefined)
  return pushInOrder(opts, netvm.name, async () => {
    const entries: Record<string, string> = {
      [CONNECTED_IPS]: connected.flatMap((vm) => (vm.ip ? [vm.ip] : [])).join(' '),
      [CONNECTED_IPS6]: connected.flatMap((vm) => (vm.ip6 ? [vm.ip6] : [])).join(' '),
    }
    for (const vm of connected) Object.assign(entries, await vmPushEntries(vm, opts))
    Object.assign(entries, forwardEntriesFor(opts.registry, opts.qubesDir, netvm.name))
    return { op: 'replace', entries }
  })
}

/** After a VM's forwards changed: every hop on its way out gets its new set of forwards. */
export async function applyForwards(vmName: string, opts: ApplyOptions): Promise<NetvmOutcome[]> {
  const outcomes: NetvmOutcome[] = []
  for (const { hop } of hopsOf(opts.registry, opts.registry.require(vmName))) {
    outcomes.push(await pushInOrder(opts, hop.name, async () => ({ op: 'update', entries: forwardEntriesFor(opts.registry, opts.qubesDir, hop.name) })))
  }
  return outcomes
}

/** One line for people: what happened where. */
