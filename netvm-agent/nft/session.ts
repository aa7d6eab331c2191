// One long-lived `nft -i` for the daemon's small transactions: starting nft costs ~10 ms a time
// (process, libraries, netlink set-up), a one-VM update's whole budget. Each transaction is written
// to a private file and nft is sent ONE line, `include "<file>"`: nft reads the commands of one
// line as one batch, included ones too, so the kernel takes all of it or none of it. (The
// transaction itself on the line would cost ~8 ms for 50 rules: nft -i reads its input a byte a
// read(2), the file through a buffer.) The file's private directory stays while the session runs.
// After the line comes a line nft cannot parse (it starts with a closing brace), named by a serial
// number: its syntax error on stderr (unbuffered, in order) says the transaction before it is done,
// and whatever stderr said before it is that transaction's error. A syntax error costs nft nothing;
// a command that fails in the kernel (`list table` of a table that never exists) would first fetch
// nft's cache again after every transaction (~0.5 ms of an update at 1000 VMs).
//
// nft -i keeps every line it read as history, in memory, and reads and writes $HOME/.nft.history
// at its start and end: a session would grow with every transaction and copy each one to root's
// home. It runs with HOME=/dev/null (no history file can be read or written there), and is
// replaced by a fresh nft once it has read SESSION_RECYCLE_BYTES.
import type { ChildProcess } from 'node:child_process'
import { childProcess } from '../../common/builtins.js'
import { NftApplyError, nftRefused } from '../errors.js'
import { nftEnv } from './env.js'
import { KeptPrivateDir } from './transaction-file.js'

/** A transaction longer than this goes to a fresh nft: the session's nft would keep its memory. */
export const SESSION_MAX_BYTES = 64 * 1024
/** nft answers at once; one that does not within this long is stuck: it is killed and started again. */
const ANSWER_TIMEOUT_MS = 60_000
/** Never a command: nft refuses a line that starts with a closing brace before it reads anything. */
const MARKER_PREFIX = '}qf-session-sync'
/** What one nft reads before a fresh one takes over: its history, kept in memory, stays this small. */
export const SESSION_RECYCLE_BYTES = 8 * 1024 * 1024

interface Waiting {
  readonly marker: string
  readonly resolve: (errors: string) => void
  readonly reject: (err: Error) => void
}

export class NftSession {
  private child: ChildProcess | undefined
  private stderr = ''
  private waiting: Waiting | undefined
  private serial = 0
  /** Bytes the running nft has read. */
  private read = 0
  private queue: Promise<unknown> = Promise.resolve()
  private readonly files = new KeptPrivateDir()

  /** `nft`, or a command that runs it (`argsBefore`: e.g. `ip netns exec NS nft` for tests). */
  constructor(
    private readonly nft: string,
    private readonly argsBefore: readonly string[] = [],
    private readonly recycleAfterBytes = SESSION_RECYCLE_BYTES,
  ) {}

  /** Loads `script` (nft's native syntax, as serialise() writes it) as one transaction; one at a time. */
  run(script: string): Promise<void> {
    const next = this.queue.then(() => this.load(script))
    this.queue = next.catch(() => undefined)
    return next
  }

  /** The running nft's pid (for tests), if one runs. */
  get pid(): number | undefined {
    return this.child?.pid
  }

  /** Ends the running nft (it exits once it has read what it was sent); a transaction still waiting fails. */
  close(): void {
    this.child?.stdin?.end()
    this.child = undefined
    this.files.remove()
    const waiting = this.waiting
    this.waiting = undefined
    waiting?.reject(new NftApplyError('the nft session was closed before nft answered'))
  }

  private async load(script: string): Promise<void> {
    if (!/\S/.test(script)) return
    const errors = await this.files.withTransactionFile(script, (file) => this.exchange(`include "${file}"\n`))
    // the next transaction starts a fresh nft
    if (this.read >= this.recycleAfterBytes) this.close()
    if (errors.trim() !== '') throw nftRefused(errors)
  }

  /** Sends one line and its marker; resolves with what nft wrote to stderr before the marker's error. */
  private exchange(line: string): Promise<string> {
    const child = this.started()
    const marker = `${MARKER_PREFIX}-${++this.serial}`
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined
        this.restart()
        reject(new NftApplyError(`nft did not answer within ${ANSWER_TIMEOUT_MS / 1000} s`))
      }, ANSWER_TIMEOUT_MS)
      this.waiting = {
        marker,
        resolve: (errors) => (clearTimeout(timer), resolve(errors)),
        reject: (err) => (clearTimeout(timer), reject(err)),
      }
      const sent = `${line}${marker}\n`
      this.read += Buffer.byteLength(sent)
      child.stdin?.write(sent)
      this.settle()
    })
  }

  /** The marker's error is three lines (message, the marker's line, the caret): all of it must be in. */
  private settle(): void {
    const waiting = this.waiting
    if (waiting === undefined) return
    const echo = `\n${waiting.marker}\n`
    const at = this.stderr.indexOf(echo)
    if (at < 0) return
    const caretsEnd = this.stderr.indexOf('\n', at + echo.length)
    if (caretsEnd < 0) return
    // the marker's own first line ("Error: ...") ends where its echo begins
    const errorLine = this.stderr.lastIndexOf('\n', at - 1) + 1
    const before = this.stderr.slice(0, errorLine)
    this.stderr = this.stderr.slice(caretsEnd + 1)
    this.waiting = undefined
    waiting.resolve(before)
  }

  private started(): ChildProcess {
    if (this.child !== undefined) return this.child
    const child = childProcess().spawn(this.nft, [...this.argsBefore, '-i'], { stdio: ['pipe', 'ignore', 'pipe'], env: nftEnv() })
    this.child = child
    this.stderr = ''
    this.read = 0
    child.stdin?.on('error', () => {})
    child.stderr?.on('data', (chunk: Buffer) => {
      // a closed session's nft may still be exiting: only the running one answers
      if (this.child !== child) return
      this.stderr += chunk.toString()
      this.settle()
    })
    const gone = (why: string) => {
      if (this.child !== child) return
      this.child = undefined
      const waiting = this.waiting
      this.waiting = undefined
      waiting?.reject(new NftApplyError(`nft ended (${why}) before answering`))
    }
    child.once('error', (err: NodeJS.ErrnoException) => gone(`cannot run ${this.nft}: ${err.code ?? err.message}`))
    child.once('exit', (code, signal) => gone(signal ?? `exit code ${code}`))
    // the session never keeps the daemon alive by itself
    child.unref()
    return child
  }

  private restart(): void {
    this.child?.kill('SIGKILL')
    this.child = undefined
  }
}
