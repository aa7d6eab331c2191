// The trust boundary: a push (QubesDB paths -> strings) is parsed once into a typed Push.
// A VM whose entries do not parse becomes a VmFailure (blocked), never a crash, never a skip.
import { shown, UNTRUSTED_KEY_LIMIT } from '../../common/untrusted-text.js'
import { PushError } from '../errors.js'
import { parseForwards } from './forward.js'
import { LIMITS } from './limits.js'
import type { Push } from './model.js'
import { routeEntries } from './route.js'
import { parseVms } from './vms-parsed-on-read.js'

/** The push as an object of paths, and its paths (its own keys: Object.entries of 25,000 cost twice as much). */
function pushEntries(untrustedPush: unknown): { entries: Readonly<Record<string, unknown>>; keys: string[] } {
  if (typeof untrustedPush !== 'object' || untrustedPush === null || Array.isArray(untrustedPush)) {
    throw new PushError('entries must be an object of QubesDB paths to strings')
  }
  const entries = untrustedPush as Record<string, unknown>
  const keys = Object.keys(entries)
  if (keys.length > LIMITS.entries) throw new PushError(`more than ${LIMITS.entries} entries`)
  return { entries, keys }
}

/**
 * Parses a push. Throws PushError only for a push that is malformed as a whole (not an object of
 * strings, over the size limits, a bad /connected-ips); a VM's bad entries fail that VM alone.
 */
export function parsePush(untrustedPush: unknown): Push {
  const { entries, keys } = pushEntries(untrustedPush)
  const routed = routeEntries(entries, keys)
  const { vms, ignored: incomplete } = parseVms(routed.vms.values())
  const { forwards, forwardErrors, ignored: notForwards } = parseForwards(routed.forwardEntries, routed.forwardsPresent)
  const { connectedIps4, connectedIps6 } = routed
  return {
    vms,
    ...(routed.forwardsPresent && { forwards, forwardErrors }),
    ignored: [...routed.ignored, ...incomplete, ...notForwards].map((k) => shown(k, UNTRUSTED_KEY_LIMIT)),
    ...(connectedIps4 && { connectedIps4 }),
    ...(connectedIps6 && { connectedIps6 }),
  }
}
