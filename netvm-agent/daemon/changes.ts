// A change of the rules as the daemon makes it: in force first, then persisted; when it cannot be
// persisted (a full disk), the kernel goes back to what the state holds, so that the answer, the
// kernel and a restart agree. Every source of changes (the socket, QubesDB) goes through here.
import type { Agent, CachedResolutions } from '../agent.js'
import type { Push, Resolution } from '../push/model.js'
import { PushError } from '../errors.js'
import { parsePush } from '../push/parse.js'
import { parseResolved } from '../push/resolution.js'
import type { Response } from './protocol.js'
import { CACHED, cachedKeyParts, type Entries, type PersistedState } from './state.js'
import { RuleParseError } from '../../common/errors.js'

function log(message: string): void {
  process.stderr.write(`qubes-firewall-agent: ${message}\n`)
}

/**
 * The persisted entries as a push, and what the agent had resolved names to (kept apart, as its own).
 * The state is a file: its cached addresses go through the push's parser of answers (a VM's that do
 * not parse are dropped: its names are asked again).
 */
export function restoredPush(saved: Entries): { push: ReturnType<typeof parsePush>; cached: CachedResolutions } {
  const entries: Entries = {}
  // /qubes-firewall-cached/<ip>/<name> -> addresses, by VM
  const cachedByVm = new Map<string, Map<string, string>>()
  for (const key in saved) {
    const value = saved[key] as string
    if (!key.startsWith(CACHED)) {
      entries[key] = value
      continue
    }
    const cachedOf = cachedKeyParts(key)
    if (cachedOf === undefined) continue
    let answers = cachedByVm.get(cachedOf.vm)
    if (answers === undefined) cachedByVm.set(cachedOf.vm, (answers = new Map()))
    answers.set(cachedOf.name, value)
  }
  const push = parsePush(entries)
  const cached = new Map<string, Map<string, Resolution>>()
  for (const [ip, answers] of cachedByVm) {
    if (!push.vms.get(ip)?.ok) continue
    try {
      cached.set(ip, parseResolved(answers))
    } catch (err) {
      if (!(err instanceof RuleParseError)) throw err
    }
  }
  return { push, cached }
}

/**
 * A change in force that could not be persisted (a full disk): the kernel goes back to what the state
 * holds, so that the answer, the kernel and a restart agree. `touched`: the VMs the change was about
 * (undefined: all of them, a replace).
 */
async function rollBack(agent: Agent, state: PersistedState, touched: readonly string[] | undefined, err: unknown): Promise<Response> {
  const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message
  const error = `could not persist the change (${reason}); rolled back: the rules before it stay in force`
  log(error)
  if (touched === undefined) {
    const { push, cached } = restoredPush(state.current())
    await agent.restore(push, cached)
  } else {
    const kept = touched.filter((ip) => state.has(ip))
    const added = touched.filter((ip) => !state.has(ip))
    if (kept.length > 0) await agent.update(restoredPush(state.current(kept)).push)
    if (added.length > 0) await agent.remove(added)
  }
  return { ok: false, error }
}

/**
 * A replace or update: parsed (a push that does not parse is answered with its error, nothing
 * changes), in force, then persisted (the entries as they came, so that a restart parses them
 * again). VMs that failed closed are kept as pushed too, so that a restart blocks them again.
 * `adjust` changes the parsed push before it goes in force (QubesDB blocks the VMs it could not read).
 */
export async function applyChange(
  agent: Agent,
  state: PersistedState,
  op: 'replace' | 'update',
  untrustedEntries: unknown,
  adjust: (push: Push) => Push = (push) => push,
): Promise<Response> {
  // a replace lists the kernel (one nft) while the push is parsed; a push that does not parse leaves the listing unused
  const factsAhead = op === 'replace' ? agent.readFactsAhead() : undefined
  let push: Push
  try {
    push = adjust(parsePush(untrustedEntries))
  } catch (err) {
    if (err instanceof PushError) return { ok: false, error: err.message }
    throw err
  }
  // parsePush took them: a map of strings
  const entries = untrustedEntries as Entries
  const result = op === 'replace' ? await agent.replace(push, factsAhead) : await agent.update(push)
  if (result.error === undefined) {
    try {
      state.record(op, entries, (vm) => agent.loadedVms().get(vm)?.resolution)
    } catch (err) {
      return rollBack(agent, state, op === 'replace' ? undefined : [...push.vms.keys()], err)
    }
  }
  return { ...result, ...(push.ignored.length > 0 && { ignored: push.ignored }) }
}

export async function removeVms(agent: Agent, state: PersistedState, ips: readonly string[]): Promise<Response> {
  const result = await agent.remove(ips)
  if (result.ok) {
    try {
      state.forget(ips)
    } catch (err) {
      return rollBack(agent, state, ips, err)
    }
  }
  return { ...result, removed: [...ips] }
}

