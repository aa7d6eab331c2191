// The agent's planning, pure: what is loaded, what is pushed and what the kernel holds -> the
// commands of one nft transaction, and what will be loaded once it is in. No process, no clock,
// no DNS: the agent (agent.ts) gathers those and runs the plan.
//
// Every VM has its own chain, reached by source address through a verdict map. A one-VM update
// never deletes anything while the caller waits (a deletion makes the kernel wait ~15 ms): it adds
// a fresh chain and points the overlay map qf-vms-update (looked up first) at it. The clean-up
// (move the entry to qf-vms, delete the old chain) is planned apart, by planGarbage().
import type { EpochSeconds, Hostname } from '../common/rule/model.js'
import type { KernelFacts } from './kernel-facts.js'
import { baseTable } from './nft/base.js'
import { NFT_FAMILIES, type Command, type NftFamily } from './nft/model.js'
import { customDnatChain, dnatJump, renderForwards } from './nft/forwards.js'
import { VM_MAP, VM_OVERLAY_MAP, nftFamily } from './nft/names.js'
import { deleteChain, deleteNameSet, mapElement, mapElements, renderVmChain, vmChainName, type RenderContext, type RenderedChain } from './nft/render.js'
import { inForceOf, stateFromApply, type NameState } from './names/name-state.js'
import { dispatchChainsRefilled, dispatchJump, ownedObjects, renderConnectedSet, vmMapsEmptied } from './nft/skeleton.js'
import type { Family, ForwardRule, Resolution, VmEntry } from './push/model.js'
import { familyOfVmIp } from './push/vm-ip.js'

export interface LoadedVm {
  entry: VmEntry
  /** What each name matches now (dom0's answer, else the agent's own, as refreshes changed it). */
  resolution: Map<Hostname, Resolution>
  /** Each name's answers, graces and failures, which the refresher moves on. */
  names: Map<Hostname, NameState>
  chain: string
  /** The set of the chain holding each name's addresses. */
  sets: ReadonlyMap<Hostname, string>
  /** The entry lives in the overlay map until the clean-up moves it. */
  inOverlay: boolean
  /** A chain (and its sets) that no longer serves and waits for the clean-up. */
  retired?: { readonly chain: string; readonly sets: readonly string[] }
}

/** A VM's names take these states, and match what they stand for. */
export function setNames(vm: LoadedVm, states: ReadonlyMap<Hostname, NameState>): void {
  Object.assign(vm, { names: new Map(states), resolution: inForceOf(states) })
}

/** A re-rendered VM's names take back the states they had (names new to it keep the apply's). */
export function keepNames(vm: LoadedVm, states: ReadonlyMap<Hostname, NameState>): void {
  setNames(vm, new Map([...vm.names].map(([name, state]) => [name, states.get(name) ?? state])))
}

/** The names' state as an apply found them. */
function loadedVm(entry: VmEntry, resolution: Map<Hostname, Resolution>, rendered: RenderedChain, chain: string, now: EpochSeconds): LoadedVm {
  const names = new Map([...resolution].map(([name, r]) => [name, stateFromApply(r, now)]))
  return { entry, resolution, names, chain, sets: rendered.sets, inOverlay: false }
}

/** A chain and its names' sets, deleted (the sets once no rule refers to them). */
function deleteVmChain(family: Family, chain: string, sets: Iterable<string>): Command[] {
  return [deleteChain(family, chain), ...[...sets].map((set) => deleteNameSet(family, set))]
}

export type Connected = { readonly 4?: readonly string[]; readonly 6?: readonly string[] }

/** What a plan needs besides the push: how each VM's names resolved, the render context, fresh chain names. */
export interface PlanInput {
  readonly resolutions: ReadonlyMap<string, Map<Hostname, Resolution>>
  readonly ctx: RenderContext
  /** A chain name never used before and not in `taken` (a counter, not the clock: renders repeat). */
  readonly nextChain: (ip: string, taken: ReadonlySet<string>) => string
}

export interface Plan {
  readonly commands: Command[]
  /** The VMs as they will be loaded once the commands are in. */
  readonly vms: Map<string, LoadedVm>
}


export function familyOf(entry: VmEntry): Family {
  return entry.ok ? entry.vm.family : entry.failure.family
}

/** Created where absent, nothing emptied: the base table (when missing), our chains, maps and sets. */
function prologueOf(family: NftFamily, facts: KernelFacts): Command[] {
  const { forward, dnat } = facts[family]
  return [
    ...(forward === 'missing-table' ? baseTable(family) : []),
    ...ownedObjects(family),
    // a base table made here comes with custom-dnat (Qubes 4.2's); one without it (older) gets one
    ...(forward !== 'missing-table' && dnat === 'missing-table' ? [{ add: { chain: customDnatChain(family) } }] : []),
  ]
}

/** The maps pointed at the new chains, /connected-ips, the forwards, the old chains deleted. */
function switchoverOf(family: NftFamily, facts: KernelFacts, state: FullState, elements: readonly [string, string][]): Command[] {
  const fam: Family = family === 'ip' ? 4 : 6
  const connected = state.connected[fam]
  return [
    ...vmMapsEmptied(family),
    ...(elements.length > 0 ? [mapElements(fam, VM_MAP, elements)] : []),
    ...(connected === undefined ? [] : renderConnectedSet(family, connected)),
    ...renderForwards(family, state.forwards),
    ...(facts[family].dnat !== 'present' ? [{ insert: { rule: dnatJump(family) } }] : []),
    ...facts[family].vmChains.map((name) => deleteChain(fam, name)),
    ...facts[family].vmSets.map((name) => deleteNameSet(fam, name)),
  ]
}

/** The chains all VM traffic passes first, refilled, and our jump to them where missing. */
function dispatchOf(family: NftFamily, facts: KernelFacts, state: FullState): Command[] {
  return [
    ...dispatchChainsRefilled(family, state.connected[family === 'ip' ? 4 : 6]),
    ...(facts[family].forward !== 'present' ? [{ insert: { rule: dispatchJump(family) } }] : []),
  ]
}

interface FullState {
  readonly connected: Connected
  readonly forwards: readonly ForwardRule[]
}

/**
 * A full load, in the order nft/stream.ts streams it: cut short anywhere, what nft read leaves each
 * VM on its old rules, on its new ones, or rejected, never unfiltered. First what only adds (nothing
 * refers to it yet), then each VM's fresh chain, then the switch-over (a VM not in its map yet is
 * rejected), and last the dispatch chains every VM's traffic passes first.
 */
export interface FullPlan {
  readonly prologue: Command[]
  /** Each VM's chain and sets, rendered as they are iterated (and each VM into `vms`). */
  readonly vmChains: Iterable<Command[]>
  readonly switchover: Command[]
  readonly dispatch: Command[]
  /** The VMs as they will be loaded once the commands are in: complete once vmChains has been iterated. */
  readonly vms: Map<string, LoadedVm>
}

/** Everything from scratch: skeleton, both maps, every VM of `vms` in a fresh chain, all old chains deleted. */
export function planFull(vms: ReadonlyMap<string, VmEntry>, state: FullState, facts: KernelFacts, input: PlanInput): FullPlan {
  const taken = new Set([...facts.ip.vmChains, ...facts.ip6.vmChains])
  // a VM's entry is read only as its chain is rendered (a push's VMs are parsed when first read)
  const chains = [...vms.keys()].map((ip) => ({ ip, family: familyOfVmIp(ip), chain: input.nextChain(ip, taken) }))
  const loaded = new Map<string, LoadedVm>()
  // each iteration renders again (the same chains: the names are chosen above), so it can be repeated
  function* vmChains(): Generator<Command[]> {
    for (const { ip, chain } of chains) {
      const entry = vms.get(ip) as VmEntry
      const rendered = renderVmChain(entry, input.ctx, chain)
      loaded.set(ip, loadedVm(entry, input.resolutions.get(ip) ?? new Map(), rendered, chain, input.ctx.now))
      yield rendered.commands
    }
  }
  const elementsOf = (family: NftFamily) =>
    chains.filter((c) => nftFamily(c.family) === family).map((c): [string, string] => [c.ip, c.chain])
  return {
    prologue: NFT_FAMILIES.flatMap((family) => prologueOf(family, facts)),
    vmChains: { [Symbol.iterator]: vmChains },
    switchover: NFT_FAMILIES.flatMap((family) => switchoverOf(family, facts, state, elementsOf(family))),
    dispatch: NFT_FAMILIES.flatMap((family) => dispatchOf(family, facts, state)),
    vms: loaded,
  }
}

/** Only the pushed VMs (fresh chains behind the overlay map) and the removed ones change; `vms` holds just those changes. */
export function planIncremental(
  loaded: ReadonlyMap<string, LoadedVm>,
  change: {
    vms: ReadonlyMap<string, VmEntry>
    removed: readonly string[]
    connected: Connected
    connectedChanged: ReadonlySet<Family>
    forwards?: readonly ForwardRule[]
  },
  input: PlanInput,
): Plan {
  const commands: Command[] = []
  if (change.forwards) for (const family of NFT_FAMILIES) commands.push(...renderForwards(family, change.forwards))
  for (const fam of change.connectedChanged) commands.push(...renderConnectedSet(nftFamily(fam), change.connected[fam] ?? []))
  for (const ip of change.removed) {
    const old = loaded.get(ip)
    if (old === undefined) continue
    const family = familyOf(old.entry)
    commands.push(mapElement('delete', family, VM_MAP, ip), ...deleteVmChain(family, old.chain, old.sets.values()))
    if (old.retired !== undefined) commands.push(...deleteVmChain(family, old.retired.chain, old.retired.sets))
  }
  const changes = new Map<string, LoadedVm>()
  for (const [ip, entry] of change.vms) {
    const old = loaded.get(ip)
    const chain = input.nextChain(ip, new Set())
    const rendered = renderVmChain(entry, input.ctx, chain)
    commands.push(...rendered.commands)
    // a VM seen for the first time goes straight into qf-vms: adding is cheap, only replacing is not
    commands.push(mapElement('add', familyOf(entry), old ? VM_OVERLAY_MAP : VM_MAP, ip, chain))
    const vm = loadedVm(entry, input.resolutions.get(ip) ?? new Map(), rendered, chain, input.ctx.now)
    changes.set(ip, { ...vm, inOverlay: old !== undefined, ...(old && { retired: { chain: old.chain, sets: [...old.sets.values()] } }) })
  }
  return { commands, vms: changes }
}

/** The clean-up after updates: overlay entries moved into qf-vms, retired chains deleted. */
export function planGarbage(loaded: ReadonlyMap<string, LoadedVm>): { commands: Command[]; cleaned: LoadedVm[] } {
  const commands: Command[] = []
  const cleaned: LoadedVm[] = []
  for (const [ip, vm] of loaded) {
    const family = familyOf(vm.entry)
    if (vm.inOverlay) {
      commands.push(mapElement('delete', family, VM_MAP, ip), mapElement('add', family, VM_MAP, ip, vm.chain))
      commands.push(mapElement('delete', family, VM_OVERLAY_MAP, ip))
    }
    if (vm.retired !== undefined) commands.push(...deleteVmChain(family, vm.retired.chain, vm.retired.sets))
    if (vm.inOverlay || vm.retired !== undefined) cleaned.push(vm)
  }
  return { commands, cleaned }
}

/** A namer for fresh chains: a counter, skipping names that exist. */
export function chainNamer(): (ip: string, taken: ReadonlySet<string>) => string {
  let generation = 0
  return (ip, taken) => {
    for (;;) {
      const name = vmChainName(ip, (generation++).toString(36))
      if (!taken.has(name)) return name
    }
  }
}
