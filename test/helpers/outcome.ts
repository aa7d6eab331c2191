// Runs a command and keeps what a user sees: exit code, stdout, stderr, never throwing on failure.
import { execFile, type ExecFileOptions } from 'node:child_process'
import { promisify } from 'node:util'

const exec = promisify(execFile)

export interface Outcome {
  code: number
  stdout: string
  stderr: string
}

export async function outcome(file: string, args: readonly string[], options: ExecFileOptions = {}): Promise<Outcome> {
  try {
    const { stdout, stderr } = await exec(file, args, { encoding: 'utf8', ...options })
    return { code: 0, stdout: String(stdout), stderr: String(stderr) }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}
