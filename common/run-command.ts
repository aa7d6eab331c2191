// Running a program to its end: its exit code and output, never a throw for a failure. Plain
// node:child_process: execa costs ~0.2-0.4 s of start-up in every command that loads it, more than
// what it does here.
import { childProcess } from './builtins.js'

export interface CommandResult {
  /** null when it was killed or could not run */
  readonly exitCode: number | null
  readonly stdout: string
  readonly stderr: string
  /** why it failed, in a few words (cannot run, exit code, signal, timeout), when it did */
  readonly failure?: string
}

/** `signal`: aborting it kills the program (SIGKILL: it gets no chance to finish what it started). */
export function runCommand(
  file: string,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = childProcess().spawn(file, args, {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      ...(options.env && { env: options.env }),
      ...(options.signal && { signal: options.signal, killSignal: 'SIGKILL' }),
    })
    let stdout = ''
    let stderr = ''
    let failure: string | undefined
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
      failure = `timed out after ${options.timeoutMs} ms`
      child.kill('SIGKILL')
    }, options.timeoutMs)
    child.stdout?.on('data', (chunk) => (stdout += chunk))
    child.stderr?.on('data', (chunk) => (stderr += chunk))
    child.on('error', (err: NodeJS.ErrnoException) => (failure ??= err.name === 'AbortError' ? 'killed: aborted' : `cannot run ${file}: ${err.code ?? err.message}`))
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (failure === undefined && code !== 0) failure = signal !== null ? `killed by ${signal}` : `exit code ${code}`
      resolve({ exitCode: code, stdout, stderr, ...(failure !== undefined && { failure }) })
    })
    if (options.input !== undefined) {
      child.stdin?.on('error', () => {})
      child.stdin?.end(options.input)
    }
  })
}
