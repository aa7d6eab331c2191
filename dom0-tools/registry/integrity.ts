// What a loaded qubes.xml must hold for the registry to be sound (unique qids and names, valid
// names and addresses, netvms that exist and provide network); a violation names the domain.
import { UsageError } from '../../common/errors.js'
import { validateName } from '../../common/qube-name.js'
import { ADMIN_CLASS, entryNamed, entryStoreError, nameOf, providesNetworkOf, qidOf } from './domain.js'
import type { QubesXml, XmlDomain } from './qubes-xml.js'
import { checkIp, checkIp6 } from './values.js'

/** The checks of an entry's values; a UsageError names what is wrong. */
function checkValues(entry: XmlDomain): void {
  providesNetworkOf(entry)
  const ip = entry.props.get('ip')?.value
  if (ip !== undefined) checkIp(ip)
  const ip6 = entry.props.get('ip6')?.value
  if (ip6 !== undefined) checkIp6(ip6)
}

export function checkLoaded(file: string, doc: QubesXml): void {
  const qids = new Set<number>()
  const names = new Set<string>()
  for (const entry of doc.domains) {
    const qid = qidOf(file, entry)
    const name = nameOf(entry)
    try {
      validateName(name)
      if (qids.has(qid)) throw new UsageError(`qid ${qid} is used twice`)
      if (names.has(name)) throw new UsageError('name is used twice')
      checkValues(entry)
    } catch (err) {
      if (err instanceof UsageError) throw entryStoreError(file, entry, err.message)
      throw err
    }
    qids.add(qid)
    names.add(name)
  }
  for (const entry of doc.domains) {
    const netvm = entry.props.get('netvm')?.value
    if (netvm === undefined || netvm === '' || entry.klass === ADMIN_CLASS) continue
    const target = entryNamed(doc.domains, netvm)
    if (target === undefined) throw entryStoreError(file, entry, `netvm '${netvm}': no such domain`)
    if (!providesNetworkOf(target)) {
      throw entryStoreError(file, entry, `netvm '${netvm}': The ${netvm} qube does not provide network`)
    }
  }
}
