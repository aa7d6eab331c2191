// Runs hook scripts: executables only, in sorted order, each with a timeout and its output kept.
// A failing hook is reported and never undoes what was applied before it.
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { childProcess } from './builtins.js'

const MAX_OUTPUT = 64 * 1024

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

/**
 * Runs one hook. It is done when the process exits, not when its output closes: a hook that starts
 * a daemon (`socat ... &`) leaves the pipes open for as long as the daemon lives.
 */
export function runHook(path: string, timeoutMs: number, env: Record<string, string> = {}): Promise<HookResult> {
  return new Promise((resolve) => {
    let output = ''
    let timedOut = false
    const child = childProcess().spawn(path, [], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
    const collect = (chunk: Buffer) => {
      if (output.length < MAX_OUTPUT) output += chunk.toString()
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutMs)
    const finish = (exitCode: number | null) => {
      clearTimeout(timer)
      // what is already in the pipes still arrives; then they are let go
      setTimeout(() => {
        child.stdout.destroy()
        child.stderr.destroy()
        resolve({ path, exitCode, timedOut, output })
      }, 50)
    }
    child.once('error', (err) => {
      output += err.message
      finish(null)
    })
    child.once('exit', (code) => finish(code))
  })
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

/**
 * The firewall hooks in Qubes' order: the system's, the user's directory, then the user script. With
 * Qubes' `custom-persist` service the user's /rw/config hooks are not run, as Qubes' agent does not.
 */
export function firewallHookPaths(rwDir: string, systemDir = '/etc/qubes/qubes-firewall.d', customPersist = false): string[] {
  if (customPersist) return hookFiles(systemDir)
  const userScript = join(rwDir, 'qubes-firewall-user-script')
  return [...hookFiles(systemDir), ...hookFiles(join(rwDir, 'qubes-firewall.d')), ...(isExecutableFile(userScript) ? [userScript] : [])]
}

/** Whether the qube runs with Qubes' service `custom-persist` (its flag file under `serviceDir`). */
export const customPersistEnabled = (serviceDir = '/var/run/qubes-service'): boolean => existsSync(join(serviceDir, 'custom-persist'))
