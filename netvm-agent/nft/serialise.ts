// The one place where the model becomes what nft reads: libnftables JSON, one command a line, so
// that two renders diff command by command.
import type { Command } from './model.js'

export function serialise(commands: readonly Command[]): string {
  return `{"nftables":[\n${commands.map((command) => JSON.stringify(command)).join(',\n')}\n]}\n`
}
