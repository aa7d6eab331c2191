// What one VM's dsthost name stands for in the kernel, and when DNS is asked again. Pure: the
// refresher (daemon/refresher.ts) brings the clock and the answers, refresh-plan.ts the commands.
//
// A name that resolved matches its last answer plus the addresses that vanished from an answer
// less than their grace ago (a rotation does not cut connections in flight). A refresh that fails
// keeps all of that until the grace of the last good answer ends; then the name is failed, and its
// rule fails closed at its position as at an apply.
import type { EpochSeconds, Hostname } from '../../common/rule/model.js'
import { ofFamily } from '../../common/dns/resolver.js'
import type { Resolution } from '../push/model.js'

export interface RefreshPolicy {
  /** A TTL is clamped to [minTtl, maxTtl] seconds before the next refresh; a failed name is retried every minTtl. */
  readonly minTtl: number
  readonly maxTtl: number
  /** Grace = max(the answer's TTL, graceFloor) seconds. */
  readonly graceFloor: number
}

export const DEFAULT_REFRESH: RefreshPolicy = { minTtl: 30, maxTtl: 3600, graceFloor: 60 }

/** serve's options (seconds, each 1 or more: cli.ts checks) as a policy; a minimum above the maximum is an error. */
export function refreshPolicy(minTtl = DEFAULT_REFRESH.minTtl, maxTtl = DEFAULT_REFRESH.maxTtl, graceFloor = DEFAULT_REFRESH.graceFloor): RefreshPolicy {
  if (minTtl > maxTtl) throw new Error(`--refresh-min-ttl ${minTtl} is above --refresh-max-ttl ${maxTtl}`)
  return { minTtl, maxTtl, graceFloor }
}

export interface Failing {
  readonly since: EpochSeconds
  readonly lastTry: EpochSeconds
  readonly error: string
}

export type NameState =
  | {
      readonly kind: 'resolved'
      /** The last good answer (both families) and when it came. */
      readonly answer: readonly string[]
      readonly answeredAt: EpochSeconds
      /** Absent for dom0's answers and restored ones: refreshed after minTtl. */
      readonly ttl?: number
      /** Addresses gone from the answer, matching until the time given. */
      readonly graced: ReadonlyMap<string, EpochSeconds>
      /** Set while refreshes fail: the answer still matches until the grace ends. */
      readonly failing?: Failing
    }
  | { readonly kind: 'failed'; readonly error: string; readonly lastTry: EpochSeconds }

/** What an apply found (dom0's answer, the agent's own, or a restored one). */
export function stateFromApply(resolution: Resolution, now: EpochSeconds): NameState {
  if ('error' in resolution) return { kind: 'failed', error: resolution.error, lastTry: now }
  return {
    kind: 'resolved', answer: [...resolution.addresses], answeredAt: now, graced: new Map(),
    ...(resolution.ttl !== undefined && { ttl: resolution.ttl }),
  }
}

/** The addresses matching now, or the failure: what the render and `check` use. */
export function inForce(state: NameState): Resolution {
  if (state.kind === 'failed') return { error: state.error }
  return { addresses: [...state.answer, ...state.graced.keys()], ...(state.ttl !== undefined && { ttl: state.ttl }) }
}

/** Each name's addresses in force (or failure). */
export const inForceOf = (states: ReadonlyMap<Hostname, NameState>): Map<Hostname, Resolution> =>
  new Map([...states].map(([name, state]) => [name, inForce(state)]))

/** max(TTL, the floor), the TTL clamped as for the next refresh: a day's TTL must not keep an address a day. */
const graceOf = (ttl: number | undefined, policy: RefreshPolicy) => Math.max(Math.min(ttl ?? 0, policy.maxTtl), policy.graceFloor)

/** When DNS is asked again. */
export function dueAt(state: NameState, policy: RefreshPolicy): EpochSeconds {
  if (state.kind === 'failed') return (state.lastTry + policy.minTtl) as EpochSeconds
  if (state.failing) return (state.failing.lastTry + policy.minTtl) as EpochSeconds
  const ttl = Math.min(Math.max(state.ttl ?? policy.minTtl, policy.minTtl), policy.maxTtl)
  return (state.answeredAt + ttl) as EpochSeconds
}

/** The next moment this state changes on its own (a refresh due, a grace ending). */
export function nextEvent(state: NameState, policy: RefreshPolicy): EpochSeconds {
  return Math.min(dueAt(state, policy), graceEnd(state, policy) ?? Infinity) as EpochSeconds
}

/** The next moment a grace of this state ends (a vanished address goes, a failing name fails), if any. */
export function graceEnd(state: NameState, policy: RefreshPolicy): EpochSeconds | undefined {
  if (state.kind === 'failed') return undefined
  let next: number | undefined = state.failing ? state.failing.since + graceOf(state.ttl, policy) : undefined
  for (const until of state.graced.values()) next = Math.min(next ?? until, until)
  return next as EpochSeconds | undefined
}

/** A refresh's answer taken in: vanished addresses start their grace; a failure keeps what matched. */
export function afterAnswer(state: NameState, answer: Resolution, now: EpochSeconds, policy: RefreshPolicy): NameState {
  if ('error' in answer) {
    if (state.kind === 'failed') return { kind: 'failed', error: answer.error, lastTry: now }
    return { ...state, failing: { since: state.failing?.since ?? now, lastTry: now, error: answer.error } }
  }
  const fresh = new Set(answer.addresses)
  const graced = new Map<string, EpochSeconds>()
  if (state.kind === 'resolved') {
    for (const [address, until] of state.graced) if (!fresh.has(address)) graced.set(address, until)
    const until = (now + graceOf(state.ttl, policy)) as EpochSeconds
    for (const address of state.answer) if (!fresh.has(address) && !graced.has(address)) graced.set(address, until)
  }
  return { kind: 'resolved', answer: [...answer.addresses], answeredAt: now, graced, ...(answer.ttl !== undefined && { ttl: answer.ttl }) }
}

/** Graces that ended are over: their addresses go; a failing name whose grace ended is failed. */
export function afterClock(state: NameState, now: EpochSeconds, policy: RefreshPolicy): NameState {
  if (state.kind === 'failed') return state
  if (state.failing && now >= state.failing.since + graceOf(state.ttl, policy)) {
    return { kind: 'failed', error: state.failing.error, lastTry: state.failing.lastTry }
  }
  if (![...state.graced.values()].some((until) => until <= now)) return state
  return { ...state, graced: new Map([...state.graced].filter(([, until]) => until > now)) }
}

/**
 * What a move from `before` to `after` tells the user of a VM of `family` (its own family's addresses
 * only: the other family's are not in its set), or undefined for a quiet one (the same addresses again).
 */
export function describeMove(name: Hostname, before: NameState, after: NameState, family: 4 | 6): string | undefined {
  const shown = (state: NameState & { kind: 'resolved' }) => addressesOf(state, family).join(' ') || 'no address'
  if (after.kind === 'failed') return before.kind === 'failed' ? undefined : `${name}: failed closed (${after.error})`
  if (before.kind === 'failed') return `${name}: resolves again, to ${shown(after)}`
  if (after.failing && !before.failing) return `${name}: refresh failed (${after.failing.error}); its addresses stay in its grace`
  // DNS rotates the order of its records: only a different set of addresses is news
  if (addressesOf(before, family).sort().join(' ') !== addressesOf(after, family).sort().join(' ')) {
    return `${name}: now ${shown(after)} (was ${shown(before)})`
  }
  if (before.failing && !after.failing) return `${name}: answers again, the same addresses`
  return undefined
}

/** The addresses of one family a name matches now (none once failed): what a VM of that family's set holds. */
export const addressesOf = (state: NameState, family: 4 | 6): string[] => {
  const now = inForce(state)
  return 'addresses' in now ? ofFamily(now.addresses, family) : []
}
