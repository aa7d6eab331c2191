// The names of what the agent owns in Qubes' `table ip|ip6 qubes` (its chains, verdict maps and
// set), and nft's word for an address family.
import type { Family } from '../push/model.js'
import type { NftFamily } from './model.js'

export const FORWARD_CHAIN = 'qf-forward'
export const REJECT_CHAIN = 'qf-reject'
export const ANTISPOOF_CHAIN = 'qf-antispoof'
export const VM_MAP = 'qf-vms'
/** Consulted before qf-vms: a one-VM update lands here without deleting anything (deletions make the kernel wait). */
export const VM_OVERLAY_MAP = 'qf-vms-update'
export const CONNECTED_SET = 'qf-connected'
/** Port forwards: DNAT (jumped from custom-dnat) and the matching accept (first in qf-forward). */
export const DNAT_CHAIN = 'qf-dnat'
export const INBOUND_CHAIN = 'qf-inbound'

export type MapName = typeof VM_MAP | typeof VM_OVERLAY_MAP

export const nftFamily = (family: Family): NftFamily => (family === 4 ? 'ip' : 'ip6')

/**
 * The drop log: qf-reject hands every packet it rejects to NFLOG group DROP_LOG_GROUP, at most
 * DROP_LOG_RATE a second per source (burst DROP_LOG_BURST), counted per source in LOG_RATE_SET.
 */
export const LOG_RATE_SET = 'qf-log-rate'
export const DROP_LOG_GROUP = 11
export const DROP_LOG_PREFIX = 'qf-drop'
export const DROP_LOG_RATE = 10
export const DROP_LOG_BURST = 20
