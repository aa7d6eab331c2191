// Each VM's rules in <qubes-dir>/appvms/<vm>/firewall.xml: read, and changed under a lock with an
// atomic replace, so concurrent edits never lose a rule and a failed edit leaves the file untouched.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { EpochSeconds, Rule } from '../../common/rule/model.js'
import { atomicWriteFile } from '../../common/atomic-write.js'
import { DEFAULT_RULES, parseFirewallConfig, serialiseFirewallXml, type FirewallConfig } from './firewall-xml.js'
import { withLock } from './lock.js'
import { readStoreFile } from '../../common/read-file.js'

export function vmDir(qubesDir: string, vm: string): string {
  return join(qubesDir, 'appvms', vm)
}

export function firewallXmlPath(qubesDir: string, vm: string): string {
  return join(vmDir(qubesDir, vm), 'firewall.xml')
}

export function loadFirewall(qubesDir: string, vm: string, now: EpochSeconds): FirewallConfig {
  const file = firewallXmlPath(qubesDir, vm)
  // only a file that does not exist is the default; an unreadable one is an error, never accept-all
  const text = readStoreFile(file)
  if (text === undefined) return { rules: [...DEFAULT_RULES], forwards: [] }
  return parseFirewallConfig(file, text, now)
}

export function loadRules(qubesDir: string, vm: string, now: EpochSeconds): Rule[] {
  return loadFirewall(qubesDir, vm, now).rules
}

/**
 * Reads the VM's firewall, lets `change` compute the new one (it may throw: nothing is written then)
 * and saves it, all under the VM's lock. Returns what was saved.
 */
export async function modifyFirewall(
  qubesDir: string,
  vm: string,
  now: () => EpochSeconds,
  change: (config: FirewallConfig) => FirewallConfig,
): Promise<FirewallConfig> {
  const dir = vmDir(qubesDir, vm)
  mkdirSync(dir, { recursive: true })
  return withLock(join(dir, '.firewall.xml.lock'), () => {
    const config = change(loadFirewall(qubesDir, vm, now()))
    atomicWriteFile(firewallXmlPath(qubesDir, vm), serialiseFirewallXml(config.rules, now(), config.forwards))
    return config
  })
}

/** modifyFirewall for the rules alone; forwards are kept as they are. */
export async function modifyRules(
  qubesDir: string,
  vm: string,
  now: () => EpochSeconds,
  change: (rules: Rule[]) => Rule[],
): Promise<Rule[]> {
  const saved = await modifyFirewall(qubesDir, vm, now, (config) => ({ ...config, rules: change(config.rules) }))
  return saved.rules
}
