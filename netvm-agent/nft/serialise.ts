// The one place where the model becomes what nft reads: libnftables JSON.
import type { Command } from './model.js'

export function serialise(commands: readonly Command[], pretty = false): string {
  return JSON.stringify({ nftables: commands }, null, pretty ? 2 : undefined) + '\n'
}
