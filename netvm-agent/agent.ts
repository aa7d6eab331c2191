// The agent's core: keeps the desired state (every VM's parsed rules), resolves names, and turns
// each change into ONE nft transaction. Effects are passed in, so all of this runs without root.
//
// Every VM has its own chain, reached by source address through a verdict map. A one-VM update
// never deletes anything while the caller waits (a deletion makes the kernel wait ~15 ms): it
// adds a fresh chain and points the overlay map qf-vms-update (looked up first) at it. The
// clean-up (move the entry to qf-vms, delete the old chain) runs after, in collectGarbage().
import type { EpochSeconds, Hostname } from '../common/rule/model.js'
import type { Resolution } from '../common/dns/resolver.js'
import type { Nameservers } from '../common/dns/resolv-conf.js'
import { NftApplyError } from './errors.js'
import { baseTable } from './nft/base.js'
import { OWNER_COMMENT, TABLE } from './nft/expr.js'
import type { Command, NftFamily } from './nft/model.js'
import {
  VM_CHAIN_PREFIX, VM_MAP, VM_OVERLAY_MAP, customDnatChain, deleteChain, dispatchJump, dnatJump, mapElement,
  nftFamily, renderConnectedSet, renderForwards, renderOwnedSkeleton, renderVmChain, vmChainName, type RenderContext,
} from './nft/render.js'
import { serialise } from './nft/serialise.js'
import type { Family, ForwardRule, FwRule, Push, VmEntry } from './push/model.js'

export interface AgentEffects {
  runNft: (json: string) => Promise<void>
  listNft: (args: readonly string[]) => Promise<unknown>
  resolve: (names: readonly string[], nameservers: Nameservers) => Promise<Map<string, Resolution>>
  nameservers: () => Nameservers
  now: () => EpochSeconds
}

export interface Failure {
  vm: string
  rule: number | null
  name?: string
  error: string
}

export interface ApplyResult {
  ok: boolean
  applied: string[]
  failed: Failure[]
  resolved: Record<string, string[]>
  removed?: string[]
  error?: string
}

export interface LoadedVm {
  entry: VmEntry
  /** Effective resolutions: dom0's, else the agent's own. */
  resolution: Map<Hostname, Resolution>
  chain: string
  /** The entry lives in the overlay map until collectGarbage() moves it. */
  inOverlay: boolean
  /** A chain that no longer serves and waits for collectGarbage(). */
  retired?: string
}

const FAMILIES: NftFamily[] = ['ip', 'ip6']

function familyOf(entry: VmEntry): Family {
  return entry.ok ? entry.vm.family : entry.failure.family
}

export class Agent {
  private vms = new Map<string, LoadedVm>()
  private connected: { 4?: readonly string[]; 6?: readonly string[] } = {}
  private forwards: readonly ForwardRule[] = []
  /** Whether our skeleton (and the jump in custom-forward) is known to be in place. */
  private skeletonReady = false
  private generation = 0
  lastError: string | null = null

  constructor(private readonly fx: AgentEffects) {}

  loadedVms(): ReadonlyMap<string, LoadedVm> {
    return this.vms
  }

  loadedForwards(): readonly ForwardRule[] {
    return this.forwards
  }

  /**
   * A fresh chain name: a counter, not the clock, so that renders of one push are identical; names
   * still in the kernel (a run before a restart) are skipped, as a transaction cannot add a chain
   * it deletes.
   */
  private nextChain(ip: string, inKernel: ReadonlySet<string> = new Set()): string {
    for (;;) {
      const name = vmChainName(ip, (this.generation++).toString(36))
      if (!inKernel.has(name)) return name
    }
  }

  /** The whole push: every VM in it is replaced, VMs absent from it are removed. */
  async replace(push: Push): Promise<ApplyResult> {
    return this.full(push)
  }

  /** Only the VMs in the push (and /connected-ips* when present) change. */
  async update(push: Push): Promise<ApplyResult> {
    // the first /connected-ips of a family adds anti-spoofing rules to the skeleton: a full apply
    const firstConnected = (push.connectedIps4 && this.connected[4] === undefined) || (push.connectedIps6 && this.connected[6] === undefined)
    if (!this.skeletonReady || firstConnected) {
      const kept = new Map<string, VmEntry>([...this.vms].map(([ip, vm]) => [ip, vm.entry]))
      for (const [ip, entry] of push.vms) kept.set(ip, entry)
      return this.full({ ...push, vms: kept }, push.vms)
    }
    return this.incremental(push, [])
  }

  async remove(ips: readonly string[]): Promise<ApplyResult> {
    return this.incremental({ vms: new Map(), ignored: [] }, ips.filter((ip) => this.vms.has(ip)))
  }

  /** Re-renders every loaded VM (SIGHUP, expiry): names are resolved again. */
  async reapply(): Promise<ApplyResult> {
    this.skeletonReady = false
    return this.full({ vms: new Map([...this.vms].map(([ip, vm]) => [ip, vm.entry])), ignored: [] })
  }

  /** Whether collectGarbage() has work: the daemon calls it once a request is answered. */
  hasGarbage(): boolean {
    return [...this.vms.values()].some((vm) => vm.inOverlay || vm.retired !== undefined)
  }

  /** Moves overlay entries into qf-vms and deletes retired chains, in one transaction. */
  async collectGarbage(): Promise<void> {
    const commands: Command[] = []
    const done: LoadedVm[] = []
    for (const [ip, vm] of this.vms) {
      const family = familyOf(vm.entry)
      if (vm.inOverlay) {
        commands.push(mapElement('delete', family, VM_MAP, ip), mapElement('add', family, VM_MAP, ip, vm.chain))
        commands.push(mapElement('delete', family, VM_OVERLAY_MAP, ip))
      }
      if (vm.retired !== undefined) commands.push(deleteChain(family, vm.retired))
      if (vm.inOverlay || vm.retired !== undefined) done.push(vm)
    }
    if (commands.length === 0) return
    await this.fx.runNft(serialise(commands))
    for (const vm of done) {
      vm.inOverlay = false
      delete vm.retired
    }
  }

  /** An expired rule is never rendered, so its name is neither resolved nor reported. */
  private liveRules(entry: VmEntry & { ok: true }): FwRule[] {
    const now = this.fx.now()
    return entry.vm.rules.filter((r) => r.expire === undefined || r.expire > now)
  }

  private async resolveNames(push: Push): Promise<Map<string, Map<Hostname, Resolution>>> {
    const wanted = new Set<Hostname>()
    for (const entry of push.vms.values()) {
      if (!entry.ok) continue
      for (const rule of this.liveRules(entry)) {
        if (rule.dsthost?.kind === 'name' && !entry.vm.resolved.has(rule.dsthost.name)) wanted.add(rule.dsthost.name)
      }
    }
    const own = wanted.size === 0 ? new Map<string, Resolution>() : await this.fx.resolve([...wanted], this.fx.nameservers())
    const perVm = new Map<string, Map<Hostname, Resolution>>()
    for (const [ip, entry] of push.vms) {
      const resolution = new Map<Hostname, Resolution>()
      if (entry.ok) {
        for (const rule of this.liveRules(entry)) {
          if (rule.dsthost?.kind !== 'name') continue
          const name = rule.dsthost.name
          resolution.set(name, entry.vm.resolved.get(name) ?? own.get(name) ?? { error: 'not resolved' })
        }
      }
      perVm.set(ip, resolution)
    }
    return perVm
  }

  /** Whether a chain (custom-forward, custom-dnat) exists and holds our jump. Lists only that small chain: listing a table makes nft fetch every rule. */
  private async dispatchState(family: NftFamily, chainName = 'custom-forward'): Promise<'missing-table' | 'missing-jump' | 'present'> {
    const listing = (await this.fx.listNft(['chain', family, TABLE, chainName])) as { nftables?: { rule?: { comment?: string } }[] } | undefined
    if (listing === undefined) return 'missing-table'
    return (listing.nftables ?? []).some((item) => item.rule?.comment === OWNER_COMMENT) ? 'present' : 'missing-jump'
  }

  /** Every VM chain of ours in the kernel, by family (from a run before a restart, too). */
  private async existingVmChains(family: NftFamily): Promise<string[]> {
    const listing = (await this.fx.listNft(['chains', family])) as { nftables?: { chain?: { table?: string; name?: string } }[] } | undefined
    return (listing?.nftables ?? [])
      .map((item) => item.chain)
      .filter((c) => c?.table === TABLE && c.name?.startsWith(VM_CHAIN_PREFIX))
      .map((c) => c?.name as string)
  }

  private context(resolutions: Map<string, Map<Hostname, Resolution>>): RenderContext {
    return {
      now: this.fx.now(),
      nameservers: this.fx.nameservers(),
      // only this apply's answers: a name that no longer resolves must not keep its old addresses
      resolution: (ip, name) => resolutions.get(ip)?.get(name) ?? { error: 'not resolved' },
    }
  }

  private takeConnected(push: Push): Set<Family> {
    const changed = new Set<Family>()
    if (push.connectedIps4) (this.connected[4] = push.connectedIps4.map(String)), changed.add(4)
    if (push.connectedIps6) (this.connected[6] = push.connectedIps6.map(String)), changed.add(6)
    return changed
  }

  /** Everything from scratch: skeleton, both maps, every VM in a fresh chain, all old chains deleted. */
  private async full(push: Push, reported: ReadonlyMap<string, VmEntry> = push.vms): Promise<ApplyResult> {
    const resolutions = await this.resolveNames(push)
    const previous = { vms: this.vms, connected: { ...this.connected }, forwards: this.forwards }
    this.takeConnected(push)
    if (push.forwards) this.forwards = push.forwards
    const ctx = this.context(resolutions)
    const commands: Command[] = []
    const inKernel = new Set<string>()
    for (const family of FAMILIES) {
      const fam: Family = family === 'ip' ? 4 : 6
      const dispatch = await this.dispatchState(family)
      if (dispatch === 'missing-table') commands.push(...baseTable(family))
      commands.push(...renderOwnedSkeleton(family, this.connected[fam]))
      if (dispatch !== 'present') commands.push({ insert: { rule: dispatchJump(family) } })
      const dnatDispatch = dispatch === 'missing-table' ? 'missing-jump' : await this.dispatchState(family, 'custom-dnat')
      // a base table without custom-dnat (not Qubes 4.2's) gets one, as Qubes 4.2 has it
      if (dnatDispatch === 'missing-table') commands.push({ add: { chain: customDnatChain(family) } })
      if (dnatDispatch !== 'present') commands.push({ insert: { rule: dnatJump(family) } })
      commands.push(...renderForwards(family, this.forwards))
      const stale = dispatch === 'missing-table' ? [] : await this.existingVmChains(family)
      for (const name of stale) commands.push(deleteChain(fam, name)), inKernel.add(name)
    }
    const next = new Map<string, LoadedVm>()
    for (const [ip, entry] of push.vms) {
      const chainName = this.nextChain(ip, inKernel)
      commands.push(...renderVmChain(entry, ctx, chainName), mapElement('add', familyOf(entry), VM_MAP, ip, chainName))
      next.set(ip, { entry, resolution: resolutions.get(ip) ?? new Map(), chain: chainName, inOverlay: false })
    }
    const removed = [...previous.vms.keys()].filter((ip) => !push.vms.has(ip))
    try {
      await this.fx.runNft(serialise(commands))
    } catch (err) {
      this.connected = previous.connected
      this.forwards = previous.forwards
      return this.refused(err, push, (blocked) => this.full(blocked, reported))
    }
    this.vms = next
    this.skeletonReady = true
    return this.report(reported, ctx, removed, push)
  }

  /** Changes only the pushed VMs: fresh chains behind the overlay map; nothing deleted but removed VMs. */
  private async incremental(push: Push, removed: readonly string[]): Promise<ApplyResult> {
    // an entry still in the overlay must move out before the VM can be updated again
    if ([...push.vms.keys(), ...removed].some((ip) => this.vms.get(ip)?.inOverlay)) await this.collectGarbage()
    const resolutions = await this.resolveNames(push)
    const previousConnected = { ...this.connected }
    const previousForwards = this.forwards
    const connectedChanged = this.takeConnected(push)
    const ctx = this.context(resolutions)
    const commands: Command[] = []
    if (push.forwards) {
      this.forwards = push.forwards
      for (const family of FAMILIES) commands.push(...renderForwards(family, this.forwards))
    }
    for (const fam of connectedChanged) commands.push(...renderConnectedSet(nftFamily(fam), this.connected[fam] ?? []))
    for (const ip of removed) {
      const old = this.vms.get(ip) as LoadedVm
      const family = familyOf(old.entry)
      commands.push(mapElement('delete', family, VM_MAP, ip), deleteChain(family, old.chain))
      if (old.retired !== undefined) commands.push(deleteChain(family, old.retired))
    }
    const changes = new Map<string, LoadedVm>()
    for (const [ip, entry] of push.vms) {
      const old = this.vms.get(ip)
      const chainName = this.nextChain(ip)
      commands.push(...renderVmChain(entry, ctx, chainName))
      // a VM seen for the first time goes straight into qf-vms: adding is cheap, only replacing is not
      commands.push(mapElement('add', familyOf(entry), old ? VM_OVERLAY_MAP : VM_MAP, ip, chainName))
      changes.set(ip, {
        entry, resolution: resolutions.get(ip) ?? new Map(), chain: chainName, inOverlay: old !== undefined,
        ...(old && { retired: old.chain }),
      })
    }
    try {
      await this.fx.runNft(serialise(commands))
    } catch (err) {
      this.connected = previousConnected
      this.forwards = previousForwards
      return this.refused(err, push, (blocked) => this.incremental(blocked, removed))
    }
    for (const ip of removed) this.vms.delete(ip)
    for (const [ip, vm] of changes) this.vms.set(ip, vm)
    return this.report(push.vms, ctx, removed, push)
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
    const failed: Failure[] = (push?.forwardErrors ?? []).map((f) => ({ vm: `forward ${f.id}`, rule: null, error: `left out: ${f.error}` }))
    const resolved: Record<string, string[]> = {}
    const applied: string[] = []
    for (const [ip, entry] of pushed) {
      if (!entry.ok) {
        failed.push({ vm: ip, rule: entry.failure.rule, error: `blocked: ${entry.failure.error}` })
        continue
      }
      applied.push(ip)
      for (const rule of this.liveRules(entry)) {
        if (rule.dsthost?.kind !== 'name') continue
        const res = ctx.resolution(ip, rule.dsthost.name)
        if ('addresses' in res) resolved[rule.dsthost.name] = [...res.addresses]
        else failed.push({ vm: ip, rule: rule.number, name: rule.dsthost.name, error: `${rule.dsthost.name}: ${res.error}` })
      }
    }
    this.lastError = failed.length > 0 ? failed.map((f) => `${f.vm}: ${f.error}`).join('; ') : null
    return { ok: failed.length === 0, applied, failed, resolved, ...(removed.length > 0 && { removed: [...removed] }) }
  }
}
