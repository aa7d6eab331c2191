// The agent's core: keeps what is loaded (every VM's parsed rules), gathers what a plan needs (names
// resolved, the kernel's facts, the clock), has plan.ts turn a change into the commands of ONE nft
// transaction, loads it, and reports. Effects are passed in, so all of this runs without root.
import type { EpochSeconds, Hostname } from '../common/rule/model.js'
import type { Resolution } from '../common/dns/resolver.js'
import type { Nameservers } from '../common/dns/resolv-conf.js'
import { NftApplyError } from './errors.js'
import { FRESH_NAMESPACE, readKernelFacts, readKernelFactsAhead, type KernelFacts, type ListNft } from './kernel-facts.js'
import type { Command } from './nft/model.js'
import type { RenderContext } from './nft/render.js'
import { serialise } from './nft/serialise.js'
import { streamedPlan, transactionText, type Transaction } from './nft/transaction.js'
import { chainNamer, familyOf, keepNames, planFull, planGarbage, planIncremental, setNames, type Connected, type LoadedVm, type PlanInput } from './plan.js'
import { LoadedVms, type LoadedVmsView } from './loaded-vms.js'
import { applyResult, type ApplyResult, type Failure } from './report.js'
import type { Family, ForwardRule, Push, VmEntry } from './push/model.js'
import { inForce, inForceOf, type RefreshPolicy } from './names/name-state.js'
import { planRefresh } from './names/refresh-plan.js'
import { cachedLookup, resolvePushNames, type CachedResolutions } from './names/resolve.js'

export type { ApplyResult, CachedResolutions, Failure, LoadedVm }

export interface AgentEffects {
  /** Loads a transaction, all or nothing; a streamed one's parts are read to their end. */
  runNft: (transaction: Transaction) => Promise<void>
  listNft: ListNft
  resolve: (names: readonly string[], nameservers: Nameservers) => Promise<Map<string, Resolution>>
  nameservers: () => Nameservers
  now: () => EpochSeconds
}

/** What a full load may know before it starts: a restart's cached answers, re-rendered VMs' names, the kernel's facts read ahead. */
interface KnownBeforeFull {
  readonly cached?: CachedResolutions
  readonly carried?: ReadonlyMap<string, LoadedVm>
  readonly facts?: Promise<KernelFacts>
}

/** What a refresh brings to an incremental plan: the names' resolutions, and element changes to load first. */
interface RefreshChange {
  readonly resolutions: Map<string, Map<Hostname, Resolution>>
  readonly before: readonly Command[]
}

export class Agent {
  private vms = new LoadedVms()
  private connected: Connected = {}
  private forwards: readonly ForwardRule[] = []
  /** Whether our skeleton (and the jump in custom-forward) is known to be in place. */
  private skeletonReady = false
  private readonly nextChain = chainNamer()
  lastError: string | null = null

  constructor(private readonly fx: AgentEffects) {}

  loadedVms(): LoadedVmsView {
    return this.vms
  }

  loadedForwards(): readonly ForwardRule[] {
    return this.forwards
  }

  /** Every address behind this netvm: the VMs served and /connected-ips*. */
  downstream(): string[] {
    return [...this.vms.keys(), ...(this.connected[4] ?? []), ...(this.connected[6] ?? [])]
  }

  /** What the kernel holds of ours and of Qubes' table: read ahead (factsAhead below) while the caller parses a push. */
  readFactsAhead(): Promise<KernelFacts> {
    return readKernelFactsAhead(this.fx.listNft)
  }

  /** The whole push: every VM in it is replaced, VMs absent from it are removed. `factsAhead`: read while the push was. */
  async replace(push: Push, factsAhead?: Promise<KernelFacts>): Promise<ApplyResult> {
    return this.full(push, push.vms, factsAhead && { facts: factsAhead })
  }

  /**
   * A restart's replace: names the agent resolved before are taken from `cached`, without asking DNS
   * (it may not be up yet). They stay the agent's own: the next reapply (SIGHUP, expiry) asks again.
   */
  async restore(push: Push, cached: CachedResolutions): Promise<ApplyResult> {
    return this.full(push, push.vms, { cached })
  }

  /** What replace() would load into a namespace where nothing exists yet (names resolved as it would). */
  async render(push: Push): Promise<string> {
    const resolutions = await resolvePushNames(push, this.fx)
    const connected = this.connectedOf(push)
    const plan = planFull(push.vms, { connected, forwards: push.forwards ?? [] }, FRESH_NAMESPACE, this.planInput(resolutions))
    return transactionText(streamedPlan(plan))
  }

  /** Only the VMs in the push (and /connected-ips* when present) change. */
  async update(push: Push): Promise<ApplyResult> {
    // the first /connected-ips of a family adds anti-spoofing rules to the skeleton: a full apply
    const firstConnected = (push.connectedIps4 && this.connected[4] === undefined) || (push.connectedIps6 && this.connected[6] === undefined)
    if (!this.skeletonReady || firstConnected) {
      const kept = new Map<string, VmEntry>([...this.vms].map(([ip, vm]) => [ip, vm.entry]))
      for (const [ip, entry] of push.vms) kept.set(ip, entry)
      return this.full({ ...push, vms: kept }, push.vms, { carried: new Map([...this.vms].filter(([ip]) => !push.vms.has(ip))) })
    }
    return this.incremental(push, [])
  }

  async remove(ips: readonly string[]): Promise<ApplyResult> {
    return this.incremental({ vms: new Map(), ignored: [] }, ips.filter((ip) => this.vms.has(ip)))
  }

  /**
   * Re-renders every loaded VM (SIGHUP, an expiry, a refused refresh). Each name keeps what it stands
   * for now, its grace and failure included: neither dom0's older answer nor a fresh DNS answer
   * overrides it here (asking again is the refresher's: SIGHUP asks it to, for every name).
   */
  async reapply(): Promise<ApplyResult> {
    this.skeletonReady = false
    return this.full({ vms: new Map([...this.vms].map(([ip, vm]) => [ip, vm.entry])), ignored: [] }, undefined, { carried: this.vms })
  }

  /**
   * Names refreshed (daemon/refresher.ts): the answers of the names that were due, and the graces
   * that ended. A set's elements change; a VM whose name failed for good, or resolves again, has its
   * chain rendered again; all in one transaction. Refused by nft: thrown (the caller reapplies).
   */
  async refreshNames(answers: ReadonlyMap<Hostname, Resolution>, askedAt: EpochSeconds, policy: RefreshPolicy): Promise<{ notes: string[]; moved: string[]; result?: ApplyResult }> {
    const plan = planRefresh({ loaded: this.vms, answers, askedAt, now: this.fx.now(), policy })
    let result: ApplyResult | undefined
    if (plan.replan.size === 0) {
      if (plan.elements.length > 0) await this.load(plan.elements)
    } else {
      const replanned = [...plan.replan].flatMap((ip) => {
        const vm = this.vms.get(ip)
        const states = plan.states.get(ip)
        return vm && states ? [{ ip, entry: vm.entry, resolution: inForceOf(states) }] : []
      })
      const push: Push = { vms: new Map(replanned.map((r) => [r.ip, r.entry])), ignored: [] }
      const resolutions = new Map(replanned.map((r) => [r.ip, r.resolution]))
      result = await this.incremental(push, [], { resolutions, before: plan.elements })
    }
    for (const [ip, states] of plan.states) {
      const vm = this.vms.get(ip)
      if (vm) setNames(vm, states)
    }
    // every name failed closed, not only those of the VMs this refresh rendered again
    const failedNames = [...this.vms].flatMap(([ip, vm]) => [...vm.names].flatMap(([name, state]) => (state.kind === 'failed' ? [`${ip}: ${name}: ${state.error}`] : [])))
    if (failedNames.length > 0) this.lastError = failedNames.join('; ')
    return { notes: plan.notes, moved: [...plan.moved], ...(result && { result }) }
  }

  /** Whether collectGarbage() has work: the daemon calls it once a request is answered. */
  hasGarbage(): boolean {
    return [...this.vms.values()].some((vm) => vm.inOverlay || vm.retired !== undefined)
  }

  /** Moves overlay entries into qf-vms and deletes retired chains, in one transaction. */
  async collectGarbage(): Promise<void> {
    const { commands, cleaned } = planGarbage(this.vms)
    if (commands.length === 0) return
    await this.fx.runNft(serialise(commands))
    for (const vm of cleaned) {
      vm.inOverlay = false
      delete vm.retired
    }
  }

  private planInput(resolutions: Map<string, Map<Hostname, Resolution>>): PlanInput {
    return { resolutions, ctx: this.context(resolutions), nextChain: this.nextChain }
  }

  /** /connected-ips* as they will be once `push` is in. */
  private connectedOf(push: Push): Connected {
    return {
      ...this.connected,
      ...(push.connectedIps4 && { 4: push.connectedIps4.map(String) }),
      ...(push.connectedIps6 && { 6: push.connectedIps6.map(String) }),
    }
  }

  private context(resolutions: Map<string, Map<Hostname, Resolution>>): RenderContext {
    return {
      now: this.fx.now(),
      nameservers: this.fx.nameservers(),
      // only this apply's answers: a name that no longer resolves must not keep its old addresses
      resolution: (ip, name) => resolutions.get(ip)?.get(name) ?? { error: 'not resolved' },
    }
  }

  /** Takes /connected-ips* from the push; returns the families it carried. */
  private takeConnected(push: Push): Set<Family> {
    this.connected = this.connectedOf(push)
    return new Set<Family>([...(push.connectedIps4 ? [4 as const] : []), ...(push.connectedIps6 ? [6 as const] : [])])
  }

  /**
   * Everything from scratch: skeleton, both maps, every VM in a fresh chain, all old chains deleted.
   * A restart's `cached` answers are used without asking DNS; the names of
   * `carried` VMs keep their states (what they stand for, graces, failures) through the re-render.
   */
  private async full(push: Push, reported: ReadonlyMap<string, VmEntry> = push.vms, known: KnownBeforeFull = {}): Promise<ApplyResult> {
    const carried = new Map([...(known.carried ?? [])].map(([ip, vm]) => [ip, vm.names]))
    const lookup = known.cached ? cachedLookup(known.cached) : () => undefined
    const resolutions = await resolvePushNames(push, this.fx, (ip, name) => {
      const state = carried.get(ip)?.get(name)
      return state ? inForce(state) : lookup(ip, name)
    })
    const previous = { connected: { ...this.connected }, forwards: this.forwards }
    this.takeConnected(push)
    if (push.forwards) this.forwards = push.forwards
    const input = this.planInput(resolutions)
    const facts: KernelFacts = await (known.facts ?? readKernelFacts(this.fx.listNft))
    const plan = planFull(push.vms, { connected: this.connected, forwards: this.forwards }, facts, input)
    const removed = [...this.vms.keys()].filter((ip) => !push.vms.has(ip))
    try {
      await this.fx.runNft(streamedPlan(plan))
    } catch (err) {
      this.connected = previous.connected
      this.forwards = previous.forwards
      return this.refused(err, push, (blocked) => this.full(blocked, reported))
    }
    // loading reads the whole transaction, rendering every VM's chain on the way
    if (plan.vms.size !== push.vms.size) throw new Error('nft was not given the whole transaction')
    this.vms = LoadedVms.of(plan.vms)
    for (const [ip, states] of carried) {
      const vm = this.vms.get(ip)
      if (vm) keepNames(vm, states)
    }
    this.skeletonReady = true
    return this.report(reported, input.ctx, removed, push)
  }

  /**
   * Changes only the pushed VMs: fresh chains behind the overlay map; nothing deleted but removed VMs.
   * A refresh gives the names' resolutions and its element changes, and has a refusal thrown.
   */
  private async incremental(push: Push, removed: readonly string[], refresh?: RefreshChange): Promise<ApplyResult> {
    // an entry still in the overlay must move out before the VM can be updated again
    if ([...push.vms.keys(), ...removed].some((ip) => this.vms.get(ip)?.inOverlay)) await this.collectGarbage()
    const resolutions = refresh?.resolutions ?? (await resolvePushNames(push, this.fx))
    const previous = { connected: { ...this.connected }, forwards: this.forwards }
    const connectedChanged = this.takeConnected(push)
    if (push.forwards) this.forwards = push.forwards
    const input = this.planInput(resolutions)
    const plan = planIncremental(
      this.vms,
      { vms: push.vms, removed, connected: this.connected, connectedChanged, ...(push.forwards && { forwards: push.forwards }) },
      input,
    )
    try {
      await this.load([...(refresh?.before ?? []), ...plan.commands])
    } catch (err) {
      this.connected = previous.connected
      this.forwards = previous.forwards
      if (refresh) throw err
      return this.refused(err, push, (blocked) => this.incremental(blocked, removed))
    }
    for (const ip of removed) this.vms.delete(ip)
    for (const [ip, vm] of plan.vms) this.vms.set(ip, vm)
    return this.report(push.vms, input.ctx, removed, push)
  }

  private async load(commands: readonly Command[]): Promise<void> {
    await this.fx.runNft(serialise(commands))
  }

  /** nft refused: the kernel kept the old ruleset whole. Fail closed: block the pushed VMs instead. */
  private async refused(err: unknown, push: Push, retry: (blocked: Push) => Promise<ApplyResult>): Promise<ApplyResult> {
    if (!(err instanceof NftApplyError)) throw err
    if (push.vms.size === 0 || [...push.vms.values()].every((e) => !e.ok)) {
      // (a refused forward set is simply not loaded: forwards open, so failing closed means none)
      this.lastError = err.message
      const failed = [...push.vms.keys()].map((vm) => ({ vm, rule: null, error: err.message }))
      return { ok: false, applied: [], failed, resolved: {}, error: err.message }
    }
    const blocked = new Map<string, VmEntry>(
      [...push.vms].map(([ip, e]) => [ip, { ok: false, failure: { ip, family: familyOf(e), error: err.message, rule: null } }]),
    )
    return retry({ ...push, vms: blocked })
  }

  private report(pushed: ReadonlyMap<string, VmEntry>, ctx: RenderContext, removed: readonly string[], push?: Push): ApplyResult {
    const result = applyResult(pushed, ctx, removed, push?.forwardErrors ?? [])
    this.lastError = result.failed.length > 0 ? result.failed.map((f) => `${f.vm}: ${f.error}`).join('; ') : null
    return result
  }
}
