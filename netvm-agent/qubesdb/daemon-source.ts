// `serve --source qubesdb`: the QubesDB watch and source wired to the daemon's agent and state.
// Changes from QubesDB take their turn with the socket's requests (one change at a time).
import { CONNECTED_IPS, CONNECTED_IPS6, FIREWALL } from '../../common/qubesdb/keys.js'
import type { Agent, ApplyResult } from '../agent.js'
import { applyChange, removeVms } from '../daemon/changes.js'
import type { Exclusive } from '../daemon/serial.js'
import type { PersistedState } from '../daemon/state.js'
import type { Push } from '../push/model.js'
import { parseVmIp } from '../push/vm-ip.js'
import { qubesDbTools, type QubesDb } from '../../common/qubesdb/client.js'
import { QubesDbSource, type ChangeRequest } from './source.js'
import { QubesDbWatch } from './watch.js'
import { failureLine } from '../failure-line.js'

/** The push with each unreadable VM blocked, its reason named. */
function blockUnreadable(push: Push, unreadable: ReadonlyMap<string, string>): Push {
  if (unreadable.size === 0) return push
  const vms = new Map(push.vms)
  for (const [ip, error] of unreadable) {
    vms.set(ip, { ok: false, failure: { ip, family: parseVmIp(ip)?.family ?? 4, error: `unreadable in QubesDB: ${error}`, rule: null } })
  }
  return { ...push, vms }
}

export interface QubesDbDaemonSource {
  stop(): void
  /** After a refresh moved these VMs' names: their /dns/<ip>/ rewritten, in turn with the changes. */
  namesMoved(ips: readonly string[]): Promise<void>
}

export function startQubesDbSource(
  agent: Agent,
  state: PersistedState,
  exclusive: Exclusive,
  log: (message: string) => void,
  db: QubesDb = qubesDbTools(),
): QubesDbDaemonSource {
  const change = (request: ChangeRequest) =>
    exclusive(async () => {
      const result = await applyChange(agent, state, request.op, request.entries, (push) => blockUnreadable(push, request.unreadable))
      for (const f of (result as ApplyResult).failed ?? []) log(failureLine(f))
      return result
    })
  const source = new QubesDbSource({
    db,
    change,
    remove: (ips) => exclusive(() => removeVms(agent, state, ips)),
    resolutionOf: (ip) => agent.loadedVms().get(ip)?.resolution,
    log,
  })
  const watch = new QubesDbWatch(db, [FIREWALL, CONNECTED_IPS, CONNECTED_IPS6], {
    onPath: (path) => source.onPath(path),
    onLive: () => source.onLive(),
    onProblem: log,
  })
  watch.start()
  return { stop: () => watch.stop(), namesMoved: (ips) => exclusive(() => source.namesMoved(ips)) }
}
