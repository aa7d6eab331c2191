// Resolves names at apply time with dns-packet: UDP to each nameserver in turn, TCP when the answer
// is truncated, A and AAAA, CNAME chains followed, all names in parallel, every wait bounded.
// Used by the agent and by dom0 alike.
import { crypto, dgram, net } from '../builtins.js'
import type DnsPacketModule from 'dns-packet'
import type { Packet } from 'dns-packet'
import { parseIPv4, parseIPv6 } from '../rule/values.js'

/**
 * `ttl` (seconds): the smallest TTL of the records the addresses came from (CNAMEs followed, A and
 * AAAA used, a NODATA's SOA); absent where no record gave one (dom0's answers, the state's cache).
 */
export type Resolution =
  | {
      readonly addresses: readonly string[]
      readonly ttl?: number
      /** The family whose query failed while the other's answered: for a VM of that family, a failure (forFamily). */
      readonly failed?: { readonly 4?: string; readonly 6?: string }
    }
  | { readonly error: string }

/** The addresses of one family (IPv6 ones hold a ':'). */
export const ofFamily = (addresses: readonly string[], family: 4 | 6): string[] => addresses.filter((a) => a.includes(':') === (family === 6))

/**
 * A resolution as a VM of `family` must take it: a failed query of its own family is a failure,
 * even when the other family answered (an IPv4 VM's drop rule must not match nothing because the
 * A query timed out while the AAAA one answered).
 */
export function forFamily(resolution: Resolution, family: 4 | 6): Resolution {
  const failed = 'addresses' in resolution ? resolution.failed?.[family] : undefined
  return failed === undefined ? resolution : { error: `${family === 4 ? 'A' : 'AAAA'} query failed: ${failed}` }
}

export interface ResolverOptions {
  readonly nameservers: readonly string[]
  readonly port?: number
  /** Per query and server. */
  readonly timeoutMs?: number
  /** Rounds over all servers. */
  readonly attempts?: number
  /** When every query ends (Date.now() milliseconds): the budget of a whole resolveAll. */
  readonly deadline?: number
}

const MAX_CNAME_DEPTH = 8
const BUDGET_SPENT = "not resolved within the apply's DNS budget"
const RCODE_NOERROR = 0
const RCODE_NXDOMAIN = 3

interface Record {
  type: string
  name: string
  ttl?: number
  data: unknown
}

// RFC 2181 section 8: a TTL with the top bit set counts as zero
const MAX_TTL = 0x7fffffff

function ttlOf(untrustedTtl: unknown): number {
  return typeof untrustedTtl === 'number' && Number.isInteger(untrustedTtl) && untrustedTtl >= 0 && untrustedTtl <= MAX_TTL ? untrustedTtl : 0
}

function minTtl(ttl: number | undefined, untrustedTtl: unknown): number {
  return Math.min(ttl ?? MAX_TTL, ttlOf(untrustedTtl))
}

/** How long a NODATA answer holds (RFC 2308 section 5): min(SOA TTL, SOA minimum), if it carries an SOA. */
function negativeTtl(answer: Packet): number | undefined {
  let ttl: number | undefined
  for (const record of (answer.authorities ?? []) as Record[]) {
    if (record.type !== 'SOA') continue
    ttl = minTtl(minTtl(ttl, record.ttl), (record.data as { minimum?: unknown } | undefined)?.minimum)
  }
  return ttl
}

class QueryError extends Error {}

type DnsPacket = typeof DnsPacketModule
let loadedDnsPacket: DnsPacket | undefined

/** dns-packet, loaded at the first query: evaluating it is ~10 ms of every command's start otherwise. */
async function dnsPacketModule(): Promise<DnsPacket> {
  loadedDnsPacket ??= (await import('dns-packet')).default
  return loadedDnsPacket
}

function buildQuery(dnsPacket: DnsPacket, name: string, type: 'A' | 'AAAA'): { id: number; packet: Buffer } {
  const id = crypto().randomInt(0, 65536)
  const packet = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] })
  return { id, packet }
}

function withTimeout<T>(ms: number, start: (done: (err: Error | null, value?: T) => void) => () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let finished = false
    const cleanup = start((err, value) => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      cleanup()
      if (err) reject(err)
      else resolve(value as T)
    })
    const timer = setTimeout(() => {
      if (finished) return
      finished = true
      cleanup()
      reject(new QueryError('timed out'))
    }, ms)
  })
}

function queryUdp(server: string, port: number, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return withTimeout(timeoutMs, (done) => {
    const socket = dgram().createSocket(server.includes(':') ? 'udp6' : 'udp4')
    socket.on('message', (msg) => done(null, msg))
    socket.on('error', (err) => done(err))
    // a connected socket hears ICMP errors (a firewall's reject, no server): fail fast, not at the timeout
    socket.connect(port, server, (err?: Error) => {
      if (err) done(err)
      else socket.send(query, (sendErr) => sendErr && done(sendErr))
    })
    return () => socket.close()
  })
}

function queryTcp(dnsPacket: DnsPacket, server: string, port: number, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return withTimeout(timeoutMs, (done) => {
    const socket = net().connect({ host: server, port })
    let received = Buffer.alloc(0)
    socket.on('connect', () => socket.write(dnsPacket.streamEncode(dnsPacket.decode(query))))
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk])
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) done(null, received.subarray(2, 2 + received.readUInt16BE(0)))
    })
    socket.on('error', (err) => done(err))
    socket.on('end', () => done(new QueryError('connection closed before the answer')))
    return () => socket.destroy()
  })
}

/** Asks one server, falling back to TCP on truncation; checks the answer belongs to the question. */
async function ask(server: string, port: number, name: string, type: 'A' | 'AAAA', timeoutMs: number): Promise<Packet> {
  const dnsPacket = await dnsPacketModule()
  const { id, packet } = buildQuery(dnsPacket, name, type)
  let untrustedAnswer = dnsPacket.decode(await queryUdp(server, port, packet, timeoutMs))
  if ((untrustedAnswer.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) {
    untrustedAnswer = dnsPacket.decode(await queryTcp(dnsPacket, server, port, packet, timeoutMs))
  }
  const question = untrustedAnswer.questions?.[0]
  if (untrustedAnswer.id !== id || question?.name.toLowerCase() !== name.toLowerCase() || question.type !== type) {
    throw new QueryError('answer does not match the question')
  }
  return untrustedAnswer
}

type TypeResult = { addresses: string[]; ttl?: number } | { error: string; final: boolean }

const withTtl = (addresses: string[], ttl: number | undefined) => (ttl === undefined ? { addresses } : { addresses, ttl })

/** Addresses of one type, following CNAMEs the answer does not resolve itself. */
async function lookupType(name: string, type: 'A' | 'AAAA', opts: ResolverOptions): Promise<TypeResult> {
  const port = opts.port ?? 53
  const deadline = opts.deadline ?? Infinity
  // no query outlives the deadline: none is left running once the budget is spent
  const timeoutMs = () => Math.max(0, Math.min(opts.timeoutMs ?? 1500, deadline - Date.now()))
  let lastError = 'no nameserver'
  for (let attempt = 0; attempt < (opts.attempts ?? 2); attempt++) {
    for (const server of opts.nameservers) {
      try {
        let target = name
        // the smallest TTL of the records used so far, the CNAMEs of earlier answers included
        let ttl: number | undefined
        for (let depth = 0; depth <= MAX_CNAME_DEPTH; depth++) {
          if (Date.now() >= deadline) return { error: BUDGET_SPENT, final: false }
          const answer = await ask(server, port, target, type, timeoutMs())
          const rcode = (answer.flags ?? 0) & 0xf
          if (rcode === RCODE_NXDOMAIN) return { error: 'no such name (NXDOMAIN)', final: true }
          if (rcode !== RCODE_NOERROR) throw new QueryError(`server answered rcode ${rcode}`)
          const records = (answer.answers ?? []) as Record[]
          // walk the chain the answer itself carries
          let current = target.toLowerCase()
          for (let hop = 0; hop <= MAX_CNAME_DEPTH; hop++) {
            const cname = records.find((r) => r.type === 'CNAME' && r.name.toLowerCase() === current)
            if (!cname) break
            current = String(cname.data).toLowerCase()
            ttl = minTtl(ttl, cname.ttl)
          }
          const addresses: string[] = []
          for (const r of records) {
            if (r.type !== type || r.name.toLowerCase() !== current) continue
            const address = (type === 'A' ? parseIPv4(String(r.data)) : parseIPv6(String(r.data)))?.toString()
            if (address === undefined) continue
            addresses.push(address)
            ttl = minTtl(ttl, r.ttl)
          }
          if (addresses.length > 0) return withTtl(addresses, ttl)
          if (current === target.toLowerCase()) {
            const negative = negativeTtl(answer)
            return withTtl(addresses, negative === undefined ? ttl : Math.min(ttl ?? MAX_TTL, negative))
          }
          target = current
        }
        return { error: 'CNAME chain too long', final: true }
      } catch (err) {
        if (Date.now() >= deadline) return { error: BUDGET_SPENT, final: false }
        lastError = err instanceof Error ? err.message : String(err)
      }
    }
  }
  return { error: lastError, final: false }
}

/**
 * A and AAAA of one name. No address of either type is a failure. The TTL is the smallest of both
 * answers, a NODATA's included (an AAAA may appear once it runs out); a failed query gives none.
 */
export async function resolveName(name: string, opts: ResolverOptions): Promise<Resolution> {
  if (opts.nameservers.length === 0) return { error: 'no nameserver configured' }
  const [a, aaaa] = await Promise.all([lookupType(name, 'A', opts), lookupType(name, 'AAAA', opts)])
  const addresses = [...('addresses' in a ? a.addresses : []), ...('addresses' in aaaa ? aaaa.addresses : [])]
  const ttls = [a, aaaa].flatMap((r) => ('addresses' in r && r.ttl !== undefined ? [r.ttl] : []))
  if (addresses.length > 0) {
    const failed = { ...('error' in a && { 4: a.error }), ...('error' in aaaa && { 6: aaaa.error }) }
    const resolved = withTtl([...new Set(addresses)], ttls.length > 0 ? Math.min(...ttls) : undefined)
    return Object.keys(failed).length > 0 ? { ...resolved, failed } : resolved
  }
  if ('error' in a) return { error: a.error }
  if ('error' in aaaa) return { error: aaaa.error }
  return { error: 'no A or AAAA record' }
}

/** What one apply may spend on DNS in all, and how many names it may ask for. */
export const RESOLUTION_BUDGET_MS = 10_000
export const MAX_NAMES_PER_APPLY = 5_000

/**
 * Every name at once, within one budget for them all: a name not resolved when it runs out (a slow
 * server, a long CNAME chain) fails, and so do names beyond the limit; nothing waits longer.
 */
export async function resolveAll(
  names: Iterable<string>,
  opts: ResolverOptions & { readonly budgetMs?: number; readonly maxNames?: number },
): Promise<Map<string, Resolution>> {
  const unique = [...new Set(names)]
  const maxNames = opts.maxNames ?? MAX_NAMES_PER_APPLY
  const budgetMs = opts.budgetMs ?? RESOLUTION_BUDGET_MS
  const within = { ...opts, deadline: Math.min(opts.deadline ?? Infinity, Date.now() + budgetMs) }
  const tooMany: Resolution = { error: `more than ${maxNames} names in one apply` }
  const results = await inParallel(unique, NAMES_IN_FLIGHT, (name, i) => (i < maxNames ? resolveName(name, within) : Promise.resolve(tooMany)))
  return new Map(unique.map((name, i) => [name, results[i] as Resolution]))
}

/**
 * Names asked at once: a burst of a thousand queries overflows a nameserver's receive buffer
 * (dnsmasq's drops hundreds), and each lost one waits for its timeout. 64 names: 128 queries.
 */
const NAMES_IN_FLIGHT = 64

/** `work` on every item, at most `limit` at once, results in the items' order. */
async function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) results[i] = await work(items[i] as T, i)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}
