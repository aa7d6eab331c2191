// Reads what `tcpdump -i nflog:N -U -w -` writes: a pcap stream of link type NFLOG (239), one
// record per packet our drop rules logged. Pure: the caller feeds stdout chunks, gets records back.
// Layout: https://www.tcpdump.org/linktypes/LINKTYPE_NFLOG.html
import ipaddr from 'ipaddr.js'

export type Proto = 'tcp' | 'udp' | 'icmp' | 'icmpv6' | number

/** One logged packet: when, which nflog group and prefix, and its layer 3/4 addresses. */
export interface NflogRecord {
  time: Date
  group: number
  prefix: string
  family: 4 | 6
  proto: Proto
  src: string
  dst: string
  sport?: number
  dport?: number
  icmpType?: number
  icmpCode?: number
}

/** The stream itself is unusable (not pcap, not NFLOG, corrupt): restart tcpdump. */
export class NflogPcapError extends Error {
  override name = 'NflogPcapError'
}

type Layer3 = Omit<NflogRecord, 'time' | 'group' | 'prefix'>
interface Format { le: boolean; nano: boolean; maxRecord: number }

const GLOBAL_HEADER = 24
const RECORD_HEADER = 16
const LINKTYPE_NFLOG = 239
// tcpdump's default snaplen; a larger incl_len means we lost the record boundaries
const MAX_RECORD = 262144
const PREFIX_LIMIT = 128
const NFULA_PAYLOAD = 9
const NFULA_PREFIX = 10
const AF_INET = 2
const AF_INET6 = 10
// hop-by-hop, routing, destination options: (len + 1) * 8 bytes; fragment (44) is a fixed 8
const IPV6_EXTENSIONS = new Set([0, 43, 44, 60])

function parseGlobalHeader(header: Buffer): Format {
  const magic = header.readUInt32LE(0)
  const swapped = header.readUInt32BE(0)
  let le: boolean
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true
  else if (swapped === 0xa1b2c3d4 || swapped === 0xa1b23c4d) le = false
  else throw new NflogPcapError(`tcpdump's output is not a pcap stream (magic 0x${swapped.toString(16).padStart(8, '0')})`)
  const nano = (le ? magic : swapped) === 0xa1b23c4d
  const u32 = (at: number) => (le ? header.readUInt32LE(at) : header.readUInt32BE(at))
  const linkType = u32(20)
  if (linkType !== LINKTYPE_NFLOG) throw new NflogPcapError(`tcpdump's output is not an NFLOG capture (link type ${linkType})`)
  const snaplen = u32(16)
  // NFLOG's snaplen bounds the packet copied, not its TLVs around it: a record may exceed it
  return { le, nano, maxRecord: snaplen > 0 ? Math.min(snaplen + 4096, MAX_RECORD) : MAX_RECORD }
}

const address = (p: Buffer, at: number, size: number) => ipaddr.fromByteArray([...p.subarray(at, at + size)]).toString()

function protoName(n: number, family: 4 | 6): Proto {
  if (n === 6) return 'tcp'
  if (n === 17) return 'udp'
  if (n === 1 && family === 4) return 'icmp'
  if (n === 58 && family === 6) return 'icmpv6'
  return n
}

/** Ports or ICMP type/code, when the captured bytes reach them. */
function transport(p: Buffer, at: number, proto: Proto): Partial<Layer3> {
  if ((proto === 'tcp' || proto === 'udp') && at + 4 <= p.length) return { sport: p.readUInt16BE(at), dport: p.readUInt16BE(at + 2) }
  if ((proto === 'icmp' || proto === 'icmpv6') && at + 2 <= p.length) return { icmpType: p.readUInt8(at), icmpCode: p.readUInt8(at + 1) }
  return {}
}

function parseIpv4(p: Buffer): Layer3 | undefined {
  if (p.length < 20 || p.readUInt8(0) >> 4 !== 4) return undefined
  const headerLength = (p.readUInt8(0) & 0x0f) * 4
  if (headerLength < 20) return undefined
  const proto = protoName(p.readUInt8(9), 4)
  const base: Layer3 = { family: 4, proto, src: address(p, 12, 4), dst: address(p, 16, 4) }
  // a fragment past the first carries no transport header
  const fragmentOffset = p.readUInt16BE(6) & 0x1fff
  return fragmentOffset === 0 ? { ...base, ...transport(p, headerLength, proto) } : base
}

function parseIpv6(p: Buffer): Layer3 | undefined {
  if (p.length < 40 || p.readUInt8(0) >> 4 !== 6) return undefined
  const base = { family: 6 as const, src: address(p, 8, 16), dst: address(p, 24, 16) }
  let next = p.readUInt8(6)
  let at = 40
  // each extension is at least 8 bytes, so the walk ends within the captured bytes
  while (IPV6_EXTENSIONS.has(next) && at + 8 <= p.length) {
    const isFragment = next === 44
    const laterFragment = isFragment && (p.readUInt16BE(at + 2) & 0xfff8) !== 0
    const length = isFragment ? 8 : (p.readUInt8(at + 1) + 1) * 8
    next = p.readUInt8(at)
    if (laterFragment) return { ...base, proto: protoName(next, 6) }
    at += length
  }
  const proto = protoName(next, 6)
  return IPV6_EXTENSIONS.has(next) ? { ...base, proto } : { ...base, proto, ...transport(p, at, proto) }
}

/**
 * The TLVs after the 4-byte NFLOG header, first of each type, or undefined if one is malformed.
 * Length and type are in the capturing host's byte order, which is the pcap file's (libpcap swaps
 * them with the file). `cut`: the capture was shortened, so the last TLV may be too.
 */
function readTlvs(body: Buffer, le: boolean, cut: boolean): Map<number, Buffer> | undefined {
  const tlvs = new Map<number, Buffer>()
  let at = 0
  while (at < body.length) {
    if (body.length - at < 4) return cut ? tlvs : undefined
    const length = le ? body.readUInt16LE(at) : body.readUInt16BE(at)
    const type = le ? body.readUInt16LE(at + 2) : body.readUInt16BE(at + 2)
    if (length < 4 || (at + length > body.length && !cut)) return undefined
    if (!tlvs.has(type)) tlvs.set(type, body.subarray(at + 4, at + length))
    // padded to 4; the last TLV's padding may be missing
    at += (length + 3) & ~3
  }
  return tlvs
}

/** Our own prefix, but from the kernel's bytes: bounded, up to its NUL. */
function prefixText(untrustedPrefix: Buffer | undefined): string {
  if (untrustedPrefix === undefined) return ''
  const bounded = untrustedPrefix.subarray(0, PREFIX_LIMIT)
  const nul = bounded.indexOf(0)
  return bounded.subarray(0, nul === -1 ? bounded.length : nul).toString('utf8')
}

function parseNflog(untrustedData: Buffer, time: Date, le: boolean, cut: boolean): NflogRecord | undefined {
  if (untrustedData.length < 4 || untrustedData.readUInt8(1) !== 0) return undefined
  const family = untrustedData.readUInt8(0)
  const tlvs = readTlvs(untrustedData.subarray(4), le, cut)
  const payload = tlvs?.get(NFULA_PAYLOAD)
  if (tlvs === undefined || payload === undefined) return undefined
  const layer3 = family === AF_INET ? parseIpv4(payload) : family === AF_INET6 ? parseIpv6(payload) : undefined
  if (layer3 === undefined) return undefined
  return { time, group: untrustedData.readUInt16BE(2), prefix: prefixText(tlvs.get(NFULA_PREFIX)), ...layer3 }
}

/**
 * Incremental reader of the pcap stream: `push` each chunk as it comes (a chunk may end anywhere),
 * get the records it completed. Throws NflogPcapError for a stream that is not NFLOG pcap or is
 * corrupt, and again on every later push. A record it cannot parse is skipped and counted.
 */
export class NflogPcapReader {
  #pending: Buffer = Buffer.alloc(0)
  #format: Format | undefined
  #failed: unknown
  #malformed = 0

  /** Records skipped: a bad TLV, no payload, not IPv4/IPv6, or addresses cut off. */
  get malformed(): number {
    return this.#malformed
  }

  push(untrustedChunk: Buffer): NflogRecord[] {
    if (this.#failed !== undefined) throw this.#failed
    try {
      return this.#drain(Buffer.concat([this.#pending, untrustedChunk]))
    } catch (error) {
      this.#failed = error
      throw error
    }
  }

  #drain(buffer: Buffer): NflogRecord[] {
    let at = 0
    if (this.#format === undefined) {
      if (buffer.length < GLOBAL_HEADER) return this.#keep(buffer, 0, [])
      this.#format = parseGlobalHeader(buffer.subarray(0, GLOBAL_HEADER))
      at = GLOBAL_HEADER
    }
    const { le, nano, maxRecord } = this.#format
    const u32 = (offset: number) => (le ? buffer.readUInt32LE(offset) : buffer.readUInt32BE(offset))
    const records: NflogRecord[] = []
    while (buffer.length - at >= RECORD_HEADER) {
      const inclLen = u32(at + 8)
      if (inclLen > maxRecord) throw new NflogPcapError(`tcpdump's output is corrupt: a record of ${inclLen} bytes (at most ${maxRecord})`)
      if (buffer.length - at - RECORD_HEADER < inclLen) break
      const time = new Date(u32(at) * 1000 + Math.floor(u32(at + 4) / (nano ? 1e6 : 1e3)))
      const data = buffer.subarray(at + RECORD_HEADER, at + RECORD_HEADER + inclLen)
      const record = parseNflog(data, time, le, inclLen < u32(at + 12))
      if (record === undefined) this.#malformed++
      else records.push(record)
      at += RECORD_HEADER + inclLen
    }
    return this.#keep(buffer, at, records)
  }

  #keep(buffer: Buffer, from: number, records: NflogRecord[]): NflogRecord[] {
    // a copy: the rest is at most one record, and the chunk it came from can go
    this.#pending = Buffer.from(buffer.subarray(from))
    return records
  }
}
