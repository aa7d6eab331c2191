// <rw-dir>/rc.local at the qube's start, with the agent's hook runner: only when executable, with
// a timeout, its output logged line by line and its exit status reported.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { hookFiles, runHook, type HookResult } from '../common/hooks.js'

export const DEFAULT_RC_LOCAL_TIMEOUT_MS = 120_000

export type RcLocalOutcome =
  | { readonly state: 'missing'; readonly path: string }
  | { readonly state: 'not-executable'; readonly path: string }
  | { readonly state: 'ran'; readonly path: string; readonly result: HookResult }

export function rcLocalPath(rwDir: string): string {
  return join(rwDir, 'rc.local')
}

export async function runRcLocal(rwDir: string, timeoutMs = DEFAULT_RC_LOCAL_TIMEOUT_MS): Promise<RcLocalOutcome> {
  const path = rcLocalPath(rwDir)
  if (!existsSync(path)) return { state: 'missing', path }
  // hookFiles() is the agent's test for "a hook that runs": an executable regular file
  if (!hookFiles(rwDir).includes(path)) return { state: 'not-executable', path }
  return { state: 'ran', path, result: await runHook(path, timeoutMs) }
}

/** How the run ended, in one phrase: `exit 0`, `exit 3`, `timed out after 2 s`, `killed by a signal`. */
export function describeResult(result: HookResult, timeoutMs: number): string {
  if (result.timedOut) return `timed out after ${timeoutMs / 1000} s`
  return result.exitCode === null ? 'killed by a signal' : `exit ${result.exitCode}`
}

/** true when the run is a failure worth an error (and a non-zero exit of the runner). */
export function failed(outcome: RcLocalOutcome): boolean {
  return outcome.state === 'ran' && (outcome.result.timedOut || outcome.result.exitCode !== 0)
}

/** The log: every output line prefixed with the script's path, then one status line. */
export function formatOutcome(outcome: RcLocalOutcome, timeoutMs: number): string {
  if (outcome.state === 'missing') return `${outcome.path}: none\n`
  if (outcome.state === 'not-executable') return `${outcome.path}: not executable, not run\n`
  const lines = outcome.result.output.split('\n').filter((line, i, all) => line !== '' || i < all.length - 1)
  return [...lines.map((line) => `${outcome.path}: ${line}\n`), `${outcome.path}: ${describeResult(outcome.result, timeoutMs)}\n`].join('')
}
