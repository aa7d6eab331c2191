// qubes-prefs: Qubes' command for global properties (default_netvm, qubes_firewall_resolve ...).
import { Command } from 'commander'
import { changeRegistry } from '../apply/follow.js'
import { loadRegistry } from '../registry/store.js'
import { runProgram } from '../../common/cli/run.js'
import { qubesDirOption, resolveQubesDir } from './qubes-dir.js'
import { verbosityOptions, type Verbosity } from './verbosity.js'

interface Options extends Verbosity {
  default?: boolean
  qubesDir?: string
}

export function buildProgram(): Command {
  const program = new Command('qubes-prefs')
    .description('list, show or set global properties')
    .argument('[property]', 'the property')
    .argument('[value]', 'its new value')
    .option('-D, --default', 'reset the property to its default')
  return verbosityOptions(qubesDirOption(program)).action(async (property: string | undefined, value: string | undefined, opts: Options) => {
    const qubesDir = resolveQubesDir(opts)
    if (property === undefined) {
      const registry = loadRegistry(qubesDir)
      for (const name of ['default_netvm', 'qubes_firewall_resolve']) {
        process.stdout.write(`${name.padEnd(24)}${registry.globalProperty(name) ?? '-'}\n`)
      }
    } else if (opts.default || value !== undefined) {
      await changeRegistry('qubes-prefs', qubesDir, (registry) => registry.setGlobalProperty(property, opts.default ? undefined : value), opts)
    } else {
      process.stdout.write(`${loadRegistry(qubesDir).requireGlobalProperty(property)}\n`)
    }
  })
}

export async function main(argv: readonly string[]): Promise<void> {
  await runProgram(buildProgram(), argv)
}
