// qvm-prefs: Qubes' command, listing, showing, setting and resetting a domain's properties.
import { Command, Option } from 'commander'
import { UsageError } from '../../common/errors.js'
import { type PropertyValue } from '../registry/registry.js'
import { loadRegistry, modifyRegistry } from '../registry/store.js'
import { runProgram } from '../../common/cli/run.js'
import { qubesDirOption, resolveQubesDir } from './qubes-dir.js'
import { verbosityOptions, type Verbosity } from './verbosity.js'
import { changeRegistry } from '../apply/follow.js'

interface Options extends Verbosity {
  default?: boolean
  hideDefault?: boolean
  qubesDir?: string
}

/** Qubes' listing: `name  D  value`, names padded to the longest, `D` default, `-` set. */
export function formatPropertyList(properties: readonly PropertyValue[], hideDefault = false): string {
  const width = Math.max(0, ...properties.map((p) => p.name.length))
  return properties
    .filter((p) => !(hideDefault && p.isDefault))
    .map((p) => `${p.name.padEnd(width)}  ${p.isDefault ? 'D' : '-'}  ${p.value}`.trimEnd() + '\n')
    .join('')
}

export function buildProgram(): Command {
  const program = new Command('qvm-prefs')
    .description("list, show or set a domain's properties")
    .argument('<name>', 'name of the domain')
    .argument('[property]', 'name of the property to show or change')
    .argument('[value]', "new value of the property ('' or none for no netvm)")
    .option('-D, --default', 'reset the property to its default value')
    .option('--hide-default', 'do not list properties that are set to the default value')
    .addOption(new Option('-g, --get', 'ignored; for compatibility with older scripts').hideHelp())
    .addOption(new Option('-s, --set', 'ignored; for compatibility with older scripts').hideHelp())
  return verbosityOptions(qubesDirOption(program)).action(async (name: string, property: string | undefined, value: string | undefined, opts: Options) => {
    const qubesDir = resolveQubesDir(opts)
    if (opts.default) {
      if (property === undefined) throw new UsageError('--default needs a PROPERTY')
      if (value !== undefined) throw new UsageError('--default takes no VALUE')
      await changeRegistry('qvm-prefs', qubesDir, (registry) => registry.resetProperty(name, property), opts)
    } else if (value !== undefined) {
      await changeRegistry('qvm-prefs', qubesDir, (registry) => registry.setProperty(name, property!, value), opts)
    } else if (property !== undefined) {
      process.stdout.write(`${loadRegistry(qubesDir).property(name, property).value}\n`)
    } else {
      process.stdout.write(formatPropertyList(loadRegistry(qubesDir).properties(name), opts.hideDefault))
    }
  })
}

export async function main(argv: readonly string[]): Promise<void> {
  await runProgram(buildProgram(), argv)
}
