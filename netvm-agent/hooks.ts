// Runs hook scripts: executables only, in sorted order, each with a timeout and its output kept.
// A failing hook is reported and never undoes what was applied before it.
import { accessSync, constants, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'

export interface HookResult {
  path: string
  exitCode: number | null
  timedOut: boolean
  output: string
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return statSync(path).isFile()
  } catch {
    return false
  }
}

/** The executables directly in `dir`, sorted by name; none when the directory is missing. */
export function hookFiles(dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  return names.sort().map((name) => join(dir, name)).filter(isExecutableFile)
}

export async function runHook(path: string, timeoutMs: number, env: Record<string, string> = {}): Promise<HookResult> {
  const result = await execa(path, [], { all: true, reject: false, timeout: timeoutMs, env, stdin: 'ignore' })
  return { path, exitCode: result.exitCode ?? null, timedOut: result.timedOut, output: (result.all ?? '').toString() }
}

/** Runs the hooks in order; `each` sees every result as it comes (for logging). */
export async function runHooks(paths: readonly string[], timeoutMs: number, each: (r: HookResult) => void = () => {}): Promise<HookResult[]> {
  const results: HookResult[] = []
  for (const path of paths) {
    const result = await runHook(path, timeoutMs)
    each(result)
    results.push(result)
  }
  return results
}

/** The firewall hooks in Qubes' order: the system's, the user's directory, then the user script. */
export function firewallHookPaths(rwDir: string, systemDir = '/etc/qubes/qubes-firewall.d'): string[] {
  const userScript = join(rwDir, 'qubes-firewall-user-script')
  return [...hookFiles(systemDir), ...hookFiles(join(rwDir, 'qubes-firewall.d')), ...(isExecutableFile(userScript) ? [userScript] : [])]
}
