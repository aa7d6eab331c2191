// Each VM's rules in <qubes-dir>/appvms/<vm>/firewall.xml: read, and changed under a lock with an
// atomic replace, so concurrent edits never lose a rule and a failed edit leaves the file untouched.
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { EpochSeconds, Rule } from '../rule/model.js'
import { atomicWriteFile } from './atomic-write.js'
import { DEFAULT_RULES, parseFirewallXml, serialiseFirewallXml } from './firewall-xml.js'
import { withLock } from './lock.js'

export function vmDir(qubesDir: string, vm: string): string {
  return join(qubesDir, 'appvms', vm)
}

export function firewallXmlPath(qubesDir: string, vm: string): string {
  return join(vmDir(qubesDir, vm), 'firewall.xml')
}

export function loadRules(qubesDir: string, vm: string, now: EpochSeconds): Rule[] {
  const file = firewallXmlPath(qubesDir, vm)
  if (!existsSync(file)) return [...DEFAULT_RULES]
  return parseFirewallXml(file, readFileSync(file, 'utf8'), now)
}

/**
 * Reads the rules, lets `change` compute the new list (it may throw: nothing is written then)
 * and saves it, all under the VM's lock. Returns the saved rules.
 */
export async function modifyRules(
  qubesDir: string,
  vm: string,
  now: () => EpochSeconds,
  change: (rules: Rule[]) => Rule[],
): Promise<Rule[]> {
  const dir = vmDir(qubesDir, vm)
  mkdirSync(dir, { recursive: true })
  return withLock(join(dir, '.firewall.xml.lock'), () => {
    const rules = change(loadRules(qubesDir, vm, now()))
    atomicWriteFile(firewallXmlPath(qubesDir, vm), serialiseFirewallXml(rules, now()))
    return rules
  })
}
