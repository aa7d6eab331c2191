// qvm-features: Qubes' command for a domain's features (e.g. the agent transport of a netvm).
import { Command } from 'commander'
import { layoutTable } from '../../common/table.js'
import { loadRegistry, modifyRegistry } from '../registry/store.js'
import { runProgram } from '../../common/cli/run.js'
import { qubesDirOption, resolveQubesDir } from './qubes-dir.js'
import { verbosityOptions, type Verbosity } from './verbosity.js'

interface Options extends Verbosity {
  unset?: boolean
  qubesDir?: string
}

export function buildProgram(): Command {
  const program = new Command('qvm-features')
    .description('manage domain features')
    .argument('<vmname>', 'the domain')
    .argument('[feature]', 'the feature to show or set')
    .argument('[value]', 'the new value')
    .option('-D, --unset', 'remove the feature')
  return verbosityOptions(qubesDirOption(program)).action(async (vmName: string, feature: string | undefined, value: string | undefined, opts: Options) => {
    const qubesDir = resolveQubesDir(opts)
    if (feature === undefined) {
      const features = Object.entries(loadRegistry(qubesDir).require(vmName).features)
      if (features.length > 0) process.stdout.write(layoutTable(features))
    } else if (opts.unset || value !== undefined) {
      await modifyRegistry(qubesDir, (registry) => registry.setFeature(vmName, feature, opts.unset ? undefined : value))
    } else {
      const current = loadRegistry(qubesDir).require(vmName).features[feature]
      if (current === undefined) throw new Error(`no such feature: '${feature}'`)
      process.stdout.write(`${current}\n`)
    }
  })
}

export async function main(argv: readonly string[]): Promise<void> {
  await runProgram(buildProgram(), argv)
}
