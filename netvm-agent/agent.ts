// The agent's core: keeps the desired state (every VM's parsed rules), resolves names, and turns
// each change (replace, update, remove) into ONE nft transaction. Effects are passed in.
import type { EpochSeconds, Hostname } from '../dom0-tools/rule/model.js'
import type { Resolution } from './dns/resolver.js'
import type { Nameservers } from './dns/resolv-conf.js'
import { NftApplyError } from './errors.js'
import { baseTable } from './nft/base.js'
import type { Command, NftFamily } from './nft/model.js'
import {
  CONNECTED_SET, VM_MAP, dispatchJump, nftFamily, renderOwnedSkeleton, renderVm, renderVmRemoval, type RenderContext,
} from './nft/render.js'
import { serialise } from './nft/serialise.js'
import { OWNER_COMMENT, TABLE } from './nft/expr.js'
import type { Family, Push, VmEntry } from './push/model.js'

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

interface LoadedVm {
  entry: VmEntry
  /** Effective resolutions: dom0's, else the agent's own. */
  resolution: Map<Hostname, Resolution>
}

const FAMILIES: NftFamily[] = ['ip', 'ip6']

export class Agent {
  private vms = new Map<string, LoadedVm>()
  private connected: { 4?: readonly string[]; 6?: readonly string[] } = {}
  /** Whether our skeleton (and the jump in custom-forward) is known to be in place. */
  private skeletonReady = false
  lastError: string | null = null

  constructor(private readonly fx: AgentEffects) {}

  loadedVms(): ReadonlyMap<string, LoadedVm> {
    return this.vms
  }

  /** The whole push: every VM in it is replaced, VMs absent from it are removed. */
  async replace(push: Push): Promise<ApplyResult> {
    const removed = [...this.vms.keys()].filter((ip) => !push.vms.has(ip))
    return this.apply(push, removed, true)
  }

  /** Only the VMs in the push (and /connected-ips* when present) change. */
  async update(push: Push): Promise<ApplyResult> {
    return this.apply(push, [], false)
  }

  async remove(ips: readonly string[]): Promise<ApplyResult> {
    const known = ips.filter((ip) => this.vms.has(ip))
    return this.apply({ vms: new Map(), ignored: [] }, known, false)
  }

  /** Re-renders every loaded VM (SIGHUP, expiry): names are resolved again. */
  async reapply(): Promise<ApplyResult> {
    this.skeletonReady = false
    return this.apply({ vms: new Map([...this.vms].map(([ip, vm]) => [ip, vm.entry])), ignored: [] }, [], true)
  }

  private async resolveNames(push: Push): Promise<Map<string, Map<Hostname, Resolution>>> {
    const wanted = new Set<Hostname>()
    for (const entry of push.vms.values()) {
      if (!entry.ok) continue
      for (const rule of entry.vm.rules) {
        if (rule.dsthost?.kind === 'name' && !entry.vm.resolved.has(rule.dsthost.name)) wanted.add(rule.dsthost.name)
      }
    }
    const own = wanted.size === 0 ? new Map<string, Resolution>() : await this.fx.resolve([...wanted], this.fx.nameservers())
    const perVm = new Map<string, Map<Hostname, Resolution>>()
    for (const [ip, entry] of push.vms) {
      const resolution = new Map<Hostname, Resolution>()
      if (entry.ok) {
        for (const rule of entry.vm.rules) {
          if (rule.dsthost?.kind !== 'name') continue
          const name = rule.dsthost.name
          resolution.set(name, entry.vm.resolved.get(name) ?? own.get(name) ?? { error: 'not resolved' })
        }
      }
      perVm.set(ip, resolution)
    }
    return perVm
  }

  /**
   * Where our jump into qf-forward stands: 'missing-table' when custom-forward does not exist
   * (no Qubes base table here), 'missing-jump', or 'present'. Lists only that small chain: listing
   * a table makes nft fetch every rule in it.
   */
  private async dispatchState(family: NftFamily): Promise<'missing-table' | 'missing-jump' | 'present'> {
    const listing = (await this.fx.listNft(['chain', family, TABLE, 'custom-forward'])) as { nftables?: { rule?: { comment?: string } }[] } | undefined
    if (listing === undefined) return 'missing-table'
    return (listing.nftables ?? []).some((item) => item.rule?.comment === OWNER_COMMENT) ? 'present' : 'missing-jump'
  }

  /** Base tables where missing, our chains, and the jump into them: everything but the VMs. */
  private async skeletonCommands(connectedChanged: Set<Family>): Promise<Command[]> {
    const commands: Command[] = []
    for (const family of FAMILIES) {
      const fam: Family = family === 'ip' ? 4 : 6
      const dispatch = await this.dispatchState(family)
      if (dispatch === 'missing-table') commands.push(...baseTable(family))
      commands.push(...renderOwnedSkeleton(family, this.connected[fam]))
      if (dispatch !== 'present') commands.push({ insert: { rule: dispatchJump(family) } })
      connectedChanged.delete(fam)
    }
    return commands
  }

  private connectedCommands(families: Set<Family>): Command[] {
    const commands: Command[] = []
    for (const fam of families) {
      const family = nftFamily(fam)
      const set = { family, table: TABLE, name: CONNECTED_SET, type: family === 'ip' ? 'ipv4_addr' : 'ipv6_addr' } as const
      const ips = this.connected[fam] ?? []
      commands.push({ flush: { set } })
      if (ips.length > 0) commands.push({ add: { element: { family, table: TABLE, name: CONNECTED_SET, elem: [...ips] } } })
    }
    return commands
  }

  private context(resolutions: Map<string, Map<Hostname, Resolution>>): RenderContext {
    return {
      now: this.fx.now(),
      nameservers: this.fx.nameservers(),
      resolution: (ip, name) => resolutions.get(ip)?.get(name) ?? this.vms.get(ip)?.resolution.get(name) ?? { error: 'not resolved' },
    }
  }

  private async apply(push: Push, removed: readonly string[], full: boolean): Promise<ApplyResult> {
    const resolutions = await this.resolveNames(push)
    const previous = { vms: new Map(this.vms), connected: { ...this.connected } }
    const connectedChanged = new Set<Family>()
    if (push.connectedIps4) (this.connected[4] = push.connectedIps4.map(String)), connectedChanged.add(4)
    if (push.connectedIps6) (this.connected[6] = push.connectedIps6.map(String)), connectedChanged.add(6)

    const ctx = this.context(resolutions)
    const commands: Command[] = []
    if (full || !this.skeletonReady) {
      commands.push(...(await this.skeletonCommands(connectedChanged)))
      // a full apply rebuilds the dispatch map from scratch
      for (const family of FAMILIES) {
        commands.push({ flush: { map: { family, table: TABLE, name: VM_MAP, type: family === 'ip' ? 'ipv4_addr' : 'ipv6_addr', map: 'verdict' } } })
      }
      for (const ip of removed) {
        const old = this.vms.get(ip)
        if (old) commands.push(...renderVmRemoval(ip, familyOf(old.entry), false))
      }
      const untouched = full ? [] : [...this.vms].filter(([ip]) => !push.vms.has(ip) && !removed.includes(ip))
      for (const [, vm] of untouched) commands.push(...renderVm(vm.entry, ctx))
    } else {
      commands.push(...this.connectedCommands(connectedChanged))
      for (const ip of removed) {
        const old = this.vms.get(ip)
        if (old) commands.push(...renderVmRemoval(ip, familyOf(old.entry), true))
      }
    }
    for (const entry of push.vms.values()) commands.push(...renderVm(entry, ctx))

    const failed: Failure[] = []
    try {
      await this.fx.runNft(serialise(commands))
    } catch (err) {
      if (!(err instanceof NftApplyError)) throw err
      this.vms = previous.vms
      this.connected = previous.connected
      if (push.vms.size === 0 || [...push.vms.values()].every((e) => !e.ok)) {
        this.lastError = err.message
        return { ok: false, applied: [], failed: [...push.vms.keys()].map((vm) => ({ vm, rule: null, error: err.message })), resolved: {}, error: err.message }
      }
      // fail closed: the VMs of a refused push are blocked, not left on rules dom0 replaced
      const blocked = new Map<string, VmEntry>(
        [...push.vms].map(([ip, e]) => [ip, { ok: false, failure: { ip, family: familyOf(e), error: err.message, rule: null } }]),
      )
      return this.apply({ ...push, vms: blocked }, removed, full)
    }
    this.skeletonReady = true
    for (const ip of removed) this.vms.delete(ip)
    for (const [ip, entry] of push.vms) this.vms.set(ip, { entry, resolution: resolutions.get(ip) ?? new Map() })

    const resolved: Record<string, string[]> = {}
    const applied: string[] = []
    for (const [ip, entry] of push.vms) {
      if (!entry.ok) {
        failed.push({ vm: ip, rule: entry.failure.rule, error: `blocked: ${entry.failure.error}` })
        continue
      }
      applied.push(ip)
      for (const rule of entry.vm.rules) {
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

function familyOf(entry: VmEntry): Family {
  return entry.ok ? entry.vm.family : entry.failure.family
}
