// When a process started: with its pid, it names one process, whatever reuses the pid later (a lock's
// owner, a recorded reader, a port binding's forwarder).
import { readFileSync } from 'node:fs'

/** Field 22 of /proc/<pid>/stat (clock ticks since boot); undefined when the process is gone (or a zombie). */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // the command name (field 2) may hold spaces and parentheses: count from the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19]
  } catch {
    return undefined
  }
}
