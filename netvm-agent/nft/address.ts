// Addresses as nft values: a bare address for a full-length prefix, else a prefix with the host
// bits cleared by us (Qubes keeps '192.168.0.1/24' as typed).
import ipaddr from 'ipaddr.js'
import type { Value } from './model.js'

export function addressValue(address: string, prefix: number): Value {
  const full = address.includes(':') ? 128 : 32
  return prefix === full ? address : { prefix: { addr: address, len: prefix } }
}

/** The network of an address and prefix (host bits cleared), as text. */
export function maskAddress(address: ipaddr.IPv4 | ipaddr.IPv6, prefix: number): string {
  const bytes = address.toByteArray()
  if (prefix >= bytes.length * 8) return address.toString()
  const masked = bytes.map((byte, i) => {
    const keep = Math.min(8, Math.max(0, prefix - i * 8))
    return byte & ((0xff << (8 - keep)) & 0xff)
  })
  return ipaddr.fromByteArray(masked).toString()
}
