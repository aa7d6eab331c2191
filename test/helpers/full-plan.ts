// A full plan's commands in the order they are loaded, every VM's chain rendered.
import type { Command } from '../../netvm-agent/nft/model.js'
import type { FullPlan } from '../../netvm-agent/plan.js'

export function fullCommands(plan: FullPlan): Command[] {
  return [...plan.prologue, ...[...plan.vmChains].flat(), ...plan.switchover, ...plan.dispatch]
}
