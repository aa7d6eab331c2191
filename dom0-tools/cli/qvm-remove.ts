// qvm-remove: Qubes' command, dropping domains from qubes.xml and their <qubes-dir>/appvms/NAME/.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { readlinePromises } from '../../common/builtins.js'
import { Command } from 'commander'
import { UsageError } from '../../common/errors.js'
import { loadRegistry } from '../registry/store.js'
import { runProgram } from '../../common/cli/run.js'
import { qubesDirOption, resolveQubesDir } from './qubes-dir.js'
import { verbosityOptions, type Verbosity } from './verbosity.js'
import { changeRegistry } from '../apply/follow.js'

interface Options extends Verbosity {
  force?: boolean
  qubesDir?: string
}

/** Qubes' question; only a terminal can answer it (a pipe or a script must say --force). */
async function confirmed(names: readonly string[]): Promise<boolean> {
  if (!process.stdin.isTTY) throw new UsageError('not removing without confirmation: standard input is not a terminal (use --force)')
  process.stdout.write(`This will completely remove the selected VM(s)...\n${names.map((name) => `  ${name}\n`).join('')}`)
  const prompt = readlinePromises().createInterface({ input: process.stdin, output: process.stdout })
  try {
    return (await prompt.question('Are you sure? [y/N] ')).trim().toUpperCase() === 'Y'
  } finally {
    prompt.close()
  }
}

export function buildProgram(): Command {
  const program = new Command('qvm-remove')
    .description('remove domains')
    .argument('<name...>', 'domains to remove')
    .option('-f, --force', 'do not prompt for confirmation')
  return verbosityOptions(qubesDirOption(program)).action(async (names: string[], opts: Options) => {
    const qubesDir = resolveQubesDir(opts)
    // what would be refused (unknown, dom0, in use) is refused before anything is asked: a dry run
    loadRegistry(qubesDir).remove(names)
    if (!opts.force && !(await confirmed(names))) {
      process.stdout.write('Remove cancelled.\n')
      process.exitCode = 1
      return
    }
    await changeRegistry('qvm-remove', qubesDir, (registry) => registry.remove(names), opts)
    // names are validated domain names by now, so each path stays inside appvms/
    for (const name of names) rmSync(join(qubesDir, 'appvms', name), { recursive: true, force: true })
  })
}

export async function main(argv: readonly string[]): Promise<void> {
  await runProgram(buildProgram(), argv)
}
