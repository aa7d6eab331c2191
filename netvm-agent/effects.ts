// The real effects the agent runs with: nft, the resolver, resolv.conf, the clock.
import { readFileSync } from 'node:fs'
import { nowEpoch } from '../common/rule/model.js'
import type { AgentEffects } from './agent.js'
import { parseResolvConf, type Nameservers } from '../common/dns/resolv-conf.js'
import { resolveAll } from '../common/dns/resolver.js'
import { listNft, runNft, runNftInSession } from './nft/run.js'

export function readNameservers(resolvConf: string): Nameservers {
  try {
    return parseResolvConf(readFileSync(resolvConf, 'utf8'))
  } catch {
    return { 4: [], 6: [] }
  }
}

/** `nftSession`: the daemon's small transactions through one long-lived nft. */
export function realEffects(resolvConf: string, options: { nftSession?: boolean } = {}): AgentEffects {
  return {
    runNft: options.nftSession ? runNftInSession() : runNft,
    listNft,
    resolve: (names, nameservers) => resolveAll(names, { nameservers: [...nameservers[4], ...nameservers[6]] }),
    nameservers: () => readNameservers(resolvConf),
    now: nowEpoch,
  }
}
