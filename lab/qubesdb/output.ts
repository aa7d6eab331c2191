// stdout as C's stdio gives it to qubesdb-cmd: line-buffered on a terminal, otherwise written a
// block (st_blksize: 4 KiB on a pipe) at a time and at exit, unless stdbuf's _STDBUF_O says
// otherwise. So a client that reads a long-running qubesdb-watch through a pipe without
// `stdbuf -oL` sees nothing arrive, here as on Qubes.
import { fstatSync, writeSync } from 'node:fs'
import { isatty } from 'node:tty'

export type Buffering = { readonly mode: 'line' | 'none' } | { readonly mode: 'full'; readonly size: number }

const DEFAULT_BLOCK = 4096

/** stdbuf's sizes: a number of bytes, or of KiB or MiB with K or M. */
function parseSize(text: string): number | undefined {
  const match = /^(\d+)([KM]?)$/.exec(text)
  if (!match) return undefined
  const size = Number(match[1]) * (match[2] === 'K' ? 1024 : match[2] === 'M' ? 1024 * 1024 : 1)
  return size > 0 ? size : undefined
}

export function bufferingOf(env: NodeJS.ProcessEnv, fd: number): Buffering {
  const forced = env['_STDBUF_O']
  if (forced === 'L') return { mode: 'line' }
  if (forced === '0') return { mode: 'none' }
  const size = forced === undefined ? undefined : parseSize(forced)
  if (size !== undefined) return { mode: 'full', size }
  if (isatty(fd)) return { mode: 'line' }
  return { mode: 'full', size: fstatSync(fd).blksize || DEFAULT_BLOCK }
}

/** A value as qubesdb-cmd prints it: raw (-r) as is, otherwise bytes outside 0x20-0x7f as \xNN. */
export function formatValue(value: string, raw: boolean): string {
  if (raw) return `${value}\n`
  let text = ''
  for (let i = 0; i < value.length; i++) {
    const byte = value.charCodeAt(i)
    text += byte >= 0x20 && byte < 0x80 ? value[i] : `\\x${byte.toString(16).padStart(2, '0')}`
  }
  return `${text}\n`
}

// a blocking wait for a non-blocking descriptor that is full (a slow reader)
const pause = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/** Writes all of `bytes`; false when the reader is gone (EPIPE). */
export function writeAll(fd: number, bytes: Buffer): boolean {
  let offset = 0
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EPIPE') return false
      if (code !== 'EAGAIN') throw err
      pause(1)
    }
  }
  return true
}

export class Stdout {
  private pending = ''
  /** The reader went away: as ferror(stdout), the command then fails. */
  failed = false

  constructor(
    private readonly fd: number,
    private readonly buffering: Buffering,
  ) {}

  /** Text of byte strings (latin1). */
  print(text: string): void {
    this.pending += text
    const { buffering } = this
    if (buffering.mode === 'full') {
      // as glibc: whole blocks go out as they fill, the rest waits
      const blocks = this.pending.length - (this.pending.length % buffering.size)
      if (blocks > 0) this.emit(blocks)
    } else if (buffering.mode === 'none' || text.includes('\n')) {
      this.flush()
    }
  }

  flush(): void {
    this.emit(this.pending.length)
  }

  private emit(length: number): void {
    const out = this.pending.slice(0, length)
    this.pending = this.pending.slice(length)
    if (out === '' || this.failed) return
    if (!writeAll(this.fd, Buffer.from(out, 'latin1'))) this.failed = true
  }
}
