// qvm-ls: Qubes' command, reduced to what this project keeps: NAME CLASS NETVM, or with -n NAME IP NETVM.
import { Command } from 'commander'
import { layoutTable } from '../../common/table.js'
import { type Domain } from '../registry/registry.js'
import { loadRegistry } from '../registry/store.js'
import { runProgram } from '../../common/cli/run.js'
import { qubesDirOption, resolveQubesDir } from './qubes-dir.js'
import { verbosityOptions, type Verbosity } from './verbosity.js'

interface Options extends Verbosity {
  network?: boolean
  qubesDir?: string
}

export function formatDomains(domains: readonly Domain[], network: boolean): string {
  const rows = domains.map((d) => [d.name, (network ? d.ip : d.klass) ?? '-', d.netvm ?? '-'])
  return layoutTable([['NAME', network ? 'IP' : 'CLASS', 'NETVM'], ...rows])
}

export function buildProgram(): Command {
  const program = new Command('qvm-ls')
    .description('list domains')
    .argument('[name...]', 'list only these domains')
    .option('-n, --network', 'show network addresses (NAME, IP, NETVM)')
  return verbosityOptions(qubesDirOption(program)).action((names: string[], opts: Options) => {
    const registry = loadRegistry(resolveQubesDir(opts))
    const domains = names.length === 0 ? registry.domains() : registry.domains().filter((d) => names.includes(d.name))
    // an unknown name is an error, as in Qubes
    for (const name of names) registry.require(name)
    process.stdout.write(formatDomains(domains, opts.network ?? false))
  })
}

export async function main(argv: readonly string[]): Promise<void> {
  await runProgram(buildProgram(), argv)
}
