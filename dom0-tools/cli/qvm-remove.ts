// qvm-remove: Qubes' command, dropping domains from qubes.xml and their <qubes-dir>/appvms/NAME/.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { Command } from 'commander'
import { modifyRegistry } from '../registry/registry.js'
import { qubesDirOption, resolveQubesDir, runProgram } from './run.js'
import { changeRegistry } from '../apply/follow.js'

interface Options {
  force?: boolean
  qubesDir?: string
}

export function buildProgram(): Command {
  const program = new Command('qvm-remove')
    .description('remove domains')
    .argument('<name...>', 'domains to remove')
    // Qubes asks for confirmation without it; we never prompt
    .option('-f, --force', 'do not prompt for confirmation')
  return qubesDirOption(program).action(async (names: string[], opts: Options) => {
    const qubesDir = resolveQubesDir(opts)
    await changeRegistry('qvm-remove', qubesDir, (registry) => registry.remove(names))
    // names are validated domain names by now, so each path stays inside appvms/
    for (const name of names) rmSync(join(qubesDir, 'appvms', name), { recursive: true, force: true })
  })
}

export async function main(argv: readonly string[]): Promise<void> {
  await runProgram(buildProgram(), argv)
}
