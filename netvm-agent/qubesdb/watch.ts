// A long-running `qubesdb-watch`: each fired path a line. The real tool writes through stdio, which
// block-buffers on a pipe (nothing arrives until 4 KiB are pending), so it runs under `stdbuf -oL`.
// A watch that dies is started again; each watch announces that it is live by seeing our own
// sentinel key fire, and only then may the caller re-read everything: nothing written between two
// watches is missed.
import type { ChildProcess } from 'node:child_process'
import { childProcess, readline } from '../../common/builtins.js'
import { WATCH_SENTINEL } from '../../common/qubesdb/keys.js'
import type { QubesDb } from '../../common/qubesdb/client.js'

const SENTINEL = WATCH_SENTINEL

export interface WatchHandlers {
  /** A watched path fired (the sentinel excluded). */
  onPath(path: string): void
  /** The watch is registered: whatever was written before may have been missed, read it all. */
  onLive(): void
  onProblem(message: string): void
}

export interface WatchOptions {
  /** How long a dead watch waits before it starts again (it may die at once, e.g. no qubesdb-daemon). */
  readonly restartDelayMs?: number
  readonly spawnWatch?: (paths: readonly string[]) => ChildProcess
}

const spawnWithLineBuffering = (paths: readonly string[]): ChildProcess =>
  childProcess().spawn('stdbuf', ['-oL', 'qubesdb-watch', '-n', '-1', ...paths], { stdio: ['ignore', 'pipe', 'pipe'] })

export class QubesDbWatch {
  private child: ChildProcess | undefined
  private stopped = false
  private generation = 0
  private restartTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly db: QubesDb,
    private readonly paths: readonly string[],
    private readonly handlers: WatchHandlers,
    private readonly options: WatchOptions = {},
  ) {}

  start(): void {
    if (this.stopped) return
    const generation = ++this.generation
    const nonce = `${process.pid}-${generation}`
    const child = (this.options.spawnWatch ?? spawnWithLineBuffering)([...this.paths, SENTINEL])
    this.child = child
    let live = false
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-500)))
    readline().createInterface({ input: child.stdout! }).on('line', (path) => {
      if (path !== SENTINEL) return this.handlers.onPath(path)
      if (live) return
      live = true
      this.handlers.onLive()
    })
    child.once('error', (err: NodeJS.ErrnoException) => this.handlers.onProblem(`cannot run qubesdb-watch: ${err.code ?? err.message}`))
    child.once('close', (code, signal) => {
      if (this.stopped || generation !== this.generation) return
      const why = signal ?? `exit code ${code}`
      this.handlers.onProblem(`qubesdb-watch ended (${why}${stderr.trim() ? `: ${stderr.trim().split('\n')[0]}` : ''}); watching again`)
      this.restartTimer = setTimeout(() => this.start(), this.options.restartDelayMs ?? 1000)
    })
    // the sentinel fires once the watch is registered; a watch not yet registered misses it, so it
    // is written again until the watch has seen it
    const announce = (attempt: number): void => {
      if (live || this.stopped || generation !== this.generation) return
      const again = () => setTimeout(() => announce(attempt + 1), Math.min(1000, 10 * 2 ** attempt)).unref()
      this.db.write(SENTINEL, nonce).then(again, (err: Error) => {
        if (attempt === 0) this.handlers.onProblem(`cannot write ${SENTINEL}: ${err.message}`)
        again()
      })
    }
    announce(0)
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.restartTimer)
    this.child?.kill()
  }

  /** For tests: the running qubesdb-watch (or stdbuf) process. */
  get pid(): number | undefined {
    return this.child?.pid
  }
}
