// qvm-create: Qubes' command, making a domain in <qubes-dir>/qubes.xml.
import { Command, Option } from 'commander'
import { UsageError } from '../../common/errors.js'
import { runProgram } from '../../common/cli/run.js'
import { qubesDirOption, resolveQubesDir } from './qubes-dir.js'
import { verbosityOptions, type Verbosity } from './verbosity.js'
import { changeRegistry } from '../apply/follow.js'

interface Options extends Verbosity {
  class: string
  qubesDir?: string
}

/** `KEY=VALUE` as Qubes' PropertyAction splits it: at the first '='. */
export function parsePropertyToken(untrustedToken: string): [string, string] {
  const at = untrustedToken.indexOf('=')
  if (at <= 0) throw new UsageError(`invalid property token: '${untrustedToken}'`)
  return [untrustedToken.slice(0, at), untrustedToken.slice(at + 1)]
}

export function buildProgram(): Command {
  // --prop, -p and --property share one list, so the order given is the order set
  const props: string[] = []
  const collect = (token: string): string[] => {
    props.push(token)
    return props
  }
  const program = new Command('qvm-create')
    .description('create a new domain')
    .argument('<name>', 'name of the domain to create')
    .option('-C, --class <class>', 'class of the new domain', 'AppVM')
    .option('-p, --prop <key=value>', "set the domain's property (repeatable)", collect)
    .addOption(new Option('--property <key=value>').hideHelp().argParser(collect))
  return verbosityOptions(qubesDirOption(program)).action(async (name: string, opts: Options) => {
    const pairs = props.map(parsePropertyToken)
    await changeRegistry('qvm-create', resolveQubesDir(opts), (registry) => registry.create(name, opts.class, pairs), opts, { create: true })
  })
}

export async function main(argv: readonly string[]): Promise<void> {
  await runProgram(buildProgram(), argv)
}
