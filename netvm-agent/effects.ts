// The real effects the agent runs with: nft, the resolver, resolv.conf, the clock.
import { readFileSync } from 'node:fs'
import { nowEpoch } from '../common/rule/model.js'
import type { AgentEffects } from './agent.js'
import { parseResolvConf, type Nameservers } from '../common/dns/resolv-conf.js'
import { resolveAll } from '../common/dns/resolver.js'
import { listNft, runNft } from './nft/run.js'

export function readNameservers(resolvConf: string): Nameservers {
  try {
    return parseResolvConf(readFileSync(resolvConf, 'utf8'))
  } catch {
    return { 4: [], 6: [] }
  }
}

export function realEffects(resolvConf: string): AgentEffects {
  return {
    runNft,
    listNft,
    resolve: (names, nameservers) => resolveAll(names, { nameservers: [...nameservers[4], ...nameservers[6]] }),
    nameservers: () => readNameservers(resolvConf),
    now: nowEpoch,
  }
}
