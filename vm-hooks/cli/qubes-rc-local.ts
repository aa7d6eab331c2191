// qubes-rc-local: runs <rw-dir>/rc.local at the qube's start (the vm-hooks systemd unit calls it),
// logging its output and reporting how it ended.
import { Command } from 'commander'
import { runProgram } from '../../common/cli/run.js'
import { UsageError } from '../../common/errors.js'
import { shown } from '../../common/untrusted-text.js'
import { DEFAULT_RW_DIR } from '../connect-tcp/persist.js'
import { DEFAULT_RC_LOCAL_TIMEOUT_MS, describeResult, failed, formatOutcome, runRcLocal } from '../rc-local.js'

export function buildProgram(): Command {
  return new Command('qubes-rc-local')
    .description('run <rw-dir>/rc.local (only when executable), with a timeout; print its output and exit status')
    .option('--rw-dir <dir>', 'the qube\'s persistent config directory', DEFAULT_RW_DIR)
    .option('--timeout <seconds>', 'kill rc.local after this long', String(DEFAULT_RC_LOCAL_TIMEOUT_MS / 1000))
    .action(async (opts: { rwDir: string; timeout: string }) => {
      if (!/^[1-9][0-9]{0,5}$/.test(opts.timeout)) throw new UsageError(`--timeout: expected whole seconds 1-999999, not '${shown(opts.timeout)}'`)
      const timeoutMs = Number(opts.timeout) * 1000
      const outcome = await runRcLocal(opts.rwDir, timeoutMs)
      process.stdout.write(formatOutcome(outcome, timeoutMs))
      if (outcome.state === 'ran' && failed(outcome)) throw new Error(`${outcome.path}: ${describeResult(outcome.result, timeoutMs)}`)
    })
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  await runProgram(buildProgram(), argv)
}
