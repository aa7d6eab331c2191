// qvm-ls: Qubes' command, reduced to what this project keeps: NAME CLASS NETVM, or with -n NAME IP NETVM.
import { Command } from 'commander'
import { loadRegistry, type Domain } from '../registry/registry.js'
import { qubesDirOption, resolveQubesDir, runProgram } from './run.js'

interface Options {
  network?: boolean
  qubesDir?: string
}

/** Columns padded to their widest cell, two spaces apart; the last one is not padded. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? []
  return rows
    .map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ') + '\n')
    .join('')
}

export function formatDomains(domains: readonly Domain[], network: boolean): string {
  const rows = domains.map((d) => [d.name, (network ? d.ip : d.klass) ?? '-', d.netvm ?? '-'])
  return formatTable([['NAME', network ? 'IP' : 'CLASS', 'NETVM'], ...rows])
}

export function buildProgram(): Command {
  const program = new Command('qvm-ls')
    .description('list domains')
    .argument('[name...]', 'list only these domains')
    .option('-n, --network', 'show network addresses (NAME, IP, NETVM)')
  return qubesDirOption(program).action((names: string[], opts: Options) => {
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
