// A refresh, planned: the answers DNS gave for names that were due, and the clock, applied to what
// is loaded. Pure. A name whose addresses changed changes its set's elements only; a VM whose
// name failed for good (its grace over) or resolves again has its chain rendered again.
import { forFamily } from '../../common/dns/resolver.js'
import type { EpochSeconds, Hostname } from '../../common/rule/model.js'
import type { Command } from '../nft/model.js'
import { setElements } from '../nft/render.js'
import type { LoadedVm } from '../plan.js'
import type { Family, Resolution } from '../push/model.js'
import { addressesOf, afterAnswer, afterClock, describeMove, type NameState, type RefreshPolicy } from './name-state.js'

export interface RefreshInput {
  readonly loaded: ReadonlyMap<string, LoadedVm>
  readonly answers: ReadonlyMap<Hostname, Resolution>
  /** When DNS was asked: a name (re)loaded since then keeps its newer state. */
  readonly askedAt: EpochSeconds
  readonly now: EpochSeconds
  readonly policy: RefreshPolicy
}

export interface RefreshPlan {
  /** Element changes of names whose rules stay as they are. */
  readonly elements: Command[]
  /** Every VM whose names' states moved, with all its names' states. */
  readonly states: Map<string, Map<Hostname, NameState>>
  /** VMs whose chain is rendered again. */
  readonly replan: Set<string>
  /** What changed, a line each (VM, name, how). */
  readonly notes: string[]
  /** The VMs with a note: what their names stand for moved, or began to fail. */
  readonly moved: Set<string>
}

/** The last time DNS was asked about this name for this VM. */
const lastAsked = (state: NameState): EpochSeconds =>
  state.kind === 'failed' ? state.lastTry : state.failing?.lastTry ?? state.answeredAt

/** The element changes turning one name's set from `before` into `after` (both resolved). */
function elementChanges(family: Family, set: string, before: NameState, after: NameState): Command[] {
  const had = new Set(addressesOf(before, family))
  const has = new Set(addressesOf(after, family))
  const added = [...has].filter((a) => !had.has(a))
  const gone = [...had].filter((a) => !has.has(a))
  return [...(gone.length > 0 ? [setElements('delete', family, set, gone)] : []), ...(added.length > 0 ? [setElements('add', family, set, added)] : [])]
}

export function planRefresh(input: RefreshInput): RefreshPlan {
  const plan: RefreshPlan = { elements: [], states: new Map(), replan: new Set(), notes: [], moved: new Set() }
  for (const [ip, vm] of input.loaded) {
    if (!vm.entry.ok) continue
    const family = vm.entry.vm.family
    let changed = false
    let replan = false
    const elements: Command[] = []
    const states = new Map<Hostname, NameState>()
    for (const [name, state] of vm.names) {
      const raw = lastAsked(state) < input.askedAt ? input.answers.get(name) : undefined
      const answer = raw === undefined ? undefined : forFamily(raw, family)
      const next = afterClock(answer === undefined ? state : afterAnswer(state, answer, input.now, input.policy), input.now, input.policy)
      states.set(name, next)
      if (next === state) continue
      changed = true
      const note = describeMove(name, state, next, family)
      if (note !== undefined) {
        plan.notes.push(`${ip}: ${note}`)
        plan.moved.add(ip)
      }
      const set = vm.sets.get(name)
      if (next.kind !== state.kind) replan = true
      // a name past a failed drop rule has no set: nothing of it is loaded
      else if (next.kind === 'resolved' && set !== undefined) elements.push(...elementChanges(family, set, state, next))
    }
    if (!changed) continue
    plan.states.set(ip, states)
    // a chain rendered again gets its sets filled anew
    if (replan) plan.replan.add(ip)
    else plan.elements.push(...elements)
  }
  return plan
}
