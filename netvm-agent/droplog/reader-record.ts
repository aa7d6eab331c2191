// The drop log's reader (tcpdump) is recorded in the daemon's state directory: a daemon killed
// outside systemd (SIGKILL; under systemd its cgroup goes with it) leaves its reader running, holding
// NFLOG group 11 in the namespace, and the next daemon's reader could not bind it. The next daemon
// ends that reader first: only that process, named by its pid, its start time and its command line.
// (A parent-death signal would not do: tcpdump drops root for its own user, which clears it.)
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { processStartTime } from '../../common/process-start.js'

function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1)
  } catch {
    return undefined
  }
}

/** Records the reader just started (`pid`), so that a later daemon can end it should this one be killed. */
export function recordReader(file: string, pid: number): void {
  const start = processStartTime(pid)
  if (start !== undefined) writeFileSync(file, `${pid} ${start}\n`, { mode: 0o600 })
}

/** Ends the recorded reader if that very process still runs `command`; the record goes. Throws if it cannot be read. */
export function endLeftReader(file: string, command: readonly string[]): void {
  let recorded: string
  try {
    recorded = readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  const [pidText = '', start] = recorded.trim().split(' ')
  const pid = Number(pidText)
  const same = Number.isSafeInteger(pid) && pid > 1 && start !== undefined && processStartTime(pid) === start
  if (same && commandLine(pid)?.join('\0') === command.join('\0')) process.kill(pid, 'SIGKILL')
  forgetReader(file)
}

/** The reader ended (as it should, or by endLeftReader): its record goes. */
export function forgetReader(file: string): void {
  rmSync(file, { force: true })
}
