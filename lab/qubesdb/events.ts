// Follows the store's events.log from the moment a watch is registered: every path fired after
// that, in order, none before. Woken by fs.watch (inotify); each wake-up reads to the end of the
// log, so appends that come together, or between the registration and fs.watch, are all read.
import { closeSync, fstatSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs'

const READ_CHUNK = 64 * 1024

export class EventFollower {
  private readonly fd: number
  private position: number
  private pending = ''
  private watcher: FSWatcher | undefined

  /** Registers the watch: what is appended from now on is delivered. */
  constructor(private readonly log: string) {
    // the size first, then the open: once the log is open in this process, the watch counts
    this.position = statSync(log, { throwIfNoEntry: false })?.size ?? 0
    this.fd = openSync(log, 'a+')
  }

  /** Calls `onPath` with each fired path, in order, until it returns false. */
  follow(onPath: (path: string) => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      let done = false
      const wake = (): void => {
        if (done) return
        try {
          done = !this.drain(onPath)
        } catch (err) {
          done = true
          reject(err)
          return
        }
        if (done) resolve()
      }
      this.watcher = watch(this.log, { persistent: true }, wake)
      this.watcher.on('error', (err) => {
        done = true
        reject(err)
      })
      wake()
    })
  }

  close(): void {
    this.watcher?.close()
    closeSync(this.fd)
  }

  /** Reads to the end of the log; false once `onPath` wanted no more. */
  private drain(onPath: (path: string) => boolean): boolean {
    for (;;) {
      const size = fstatSync(this.fd).size
      if (size <= this.position) return true
      const chunk = Buffer.alloc(Math.min(size - this.position, READ_CHUNK))
      const got = readSync(this.fd, chunk, 0, chunk.length, this.position)
      if (got === 0) return true
      this.position += got
      const lines = (this.pending + chunk.toString('latin1', 0, got)).split('\n')
      this.pending = lines.pop() ?? ''
      for (const line of lines) {
        if (!onPath(line)) return false
      }
    }
  }
}
