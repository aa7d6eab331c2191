// Which rule decides a packet from a VM, and why (`check`): as the agent decides it and dom0 receives it.
import type { Action } from '../rule/model.js'

export type DecidedBy = { readonly rule: number } | 'policy' | 'blocked' | 'isolation'

export interface Decision {
  /** accept: the packet goes on (`return` to the forward chain); drop: it is refused. */
  readonly action: Action
  readonly by: DecidedBy
  /** One line for the user. */
  readonly reason: string
}
