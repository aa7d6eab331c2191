// -v/--verbose and -q/--quiet, which every Qubes dom0 tool takes (QubesArgumentParser), and the one
// place that reports a dom0 command's pushes at the level they set.
import type { Command } from 'commander'
import { reportError } from '../../common/cli/run.js'
import { describeOutcome, type NetvmOutcome } from '../apply/outcome.js'

/** How often -v and -q were given: counted, as argparse's action='count' does (`-vv`, `-q -q`). */
export interface Verbosity {
  verbose?: number
  quiet?: number
}

const count = (_value: unknown, previous: number): number => previous + 1

/** Adds -v/--verbose and -q/--quiet to a dom0 command. */
export function verbosityOptions(cmd: Command): Command {
  return cmd
    .option('-v, --verbose', 'increase verbosity: also say where each change was pushed and how long the answer took', count, 0)
    .option('-q, --quiet', 'decrease verbosity: no status line after a change (warnings and errors still show)', count, 0)
}

/** Qubes' level, verbose - quiet with verbose 1 by default: status lines from 1, details from 2. */
export function verbosityLevel(opts: Verbosity): number {
  return 1 + (opts.verbose ?? 0) - (opts.quiet ?? 0)
}

type Pushes = NetvmOutcome | readonly NetvmOutcome[] | undefined

/**
 * Runs a push (to one netvm or several) and reports it on stderr, as stdout carries only what was
 * asked for: with -v where it went and how long the answer took, unless -q each applied push's
 * status line; whatever the level, a warning for an unreachable agent and an error (exit code 1,
 * the change kept) for a refusal.
 */
export async function pushAndReport(prog: string, vm: string | undefined, opts: Verbosity, push: () => Promise<Pushes>): Promise<void> {
  const started = Date.now()
  const result = await push()
  const ms = Date.now() - started
  const level = verbosityLevel(opts)
  // a netvm running no agent of ours was sent nothing
  const pushed = (result === undefined ? [] : Array.isArray(result) ? result : [result as NetvmOutcome]).filter((o) => o.status !== 'unmanaged')
  if (level >= 2 && pushed.length > 0) {
    process.stderr.write(`${prog}: ${vm === undefined ? '' : `${vm}: `}pushed to ${pushed.map((o) => o.netvm).join(', ')}, answered in ${ms} ms\n`)
  }
  for (const outcome of pushed) {
    const line = describeOutcome(vm, outcome)
    if (outcome.status === 'applied') {
      if (level >= 1) process.stderr.write(`${line}\n`)
    } else if (outcome.status === 'unreachable') process.stderr.write(`${prog}: ${line}\n`)
    else reportError(prog, new Error(line))
  }
}
