// Where dom0's state lives: every dom0 command takes --qubes-dir, as Qubes' tools take their app.
import type { Command } from 'commander'

export const DEFAULT_QUBES_DIR = '/var/lib/qubes'

/** `--qubes-dir DIR`, else $QUBES_DIR, else /var/lib/qubes. */
export function qubesDirOption(cmd: Command): Command {
  return cmd.option('--qubes-dir <dir>', 'where qubes.xml and appvms/ live (env QUBES_DIR)')
}

export function resolveQubesDir(opts: { qubesDir?: string }): string {
  return opts.qubesDir ?? process.env['QUBES_DIR'] ?? DEFAULT_QUBES_DIR
}
