// What the policy knows of each domain, from dom0's registry (qubes.xml).
import type { Registry } from '../../dom0-tools/registry/registry.js'
import type { DomainInfo, SystemInfo } from './model.js'

/**
 * Type, template_for_dispvms and default_dispvm come from qubes.xml; tags are not kept by the
 * registry, so `@tag:` tokens match no domain here.
 */
export function systemInfoFromRegistry(registry: Registry): SystemInfo {
  const domains = new Map<string, DomainInfo>()
  for (const domain of registry.domains()) {
    const defaultDispvm = domain.props['default_dispvm']
    domains.set(domain.name, {
      type: domain.klass,
      tags: [],
      templateForDispvms: domain.props['template_for_dispvms'] === 'True',
      defaultDispvm: defaultDispvm === undefined || defaultDispvm === '' ? undefined : defaultDispvm,
    })
  }
  return { domains }
}
