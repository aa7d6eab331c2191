// The drop log's reader: `tcpdump -i nflog:GROUP -w -` run in the agent's network namespace (NFLOG
// works in any namespace; the kernel's printk log is not visible from one), its pcap stream parsed,
// each drop attributed and kept: the last MAX_KEPT for `log`, and handed to followers as it comes.
// A reader that dies is restarted after RESTART_MS; without tcpdump the log says so, nothing else stops.
import type { ChildProcess } from 'node:child_process'
import { childProcess } from '../../common/builtins.js'
import { DROP_LOG_GROUP, DROP_LOG_PREFIX } from '../nft/names.js'
import { attribute, type AttributionContext, type Drop } from './attribute.js'
import { NflogPcapReader } from './nflog-pcap.js'
import { endLeftReader, forgetReader, recordReader } from './reader-record.js'
import type { LoadedVm } from '../plan.js'

const MAX_KEPT = 1000
const RESTART_MS = 1000

export type DropLogState = 'starting' | 'listening' | `unavailable: ${string}`

export interface DropLogSources {
  vms: () => ReadonlyMap<string, LoadedVm>
  context: () => AttributionContext
  log: (message: string) => void
  /** The reader's command (tests and other tools may differ). */
  command?: readonly [string, ...string[]]
  /** Where the running reader is recorded (reader-record.ts): the daemon's state directory. */
  readerRecord?: string
}

export class DropLog {
  private readonly kept: Drop[] = []
  private readonly followers = new Set<(drop: Drop) => void>()
  private child: ChildProcess | undefined
  private stopped = false
  state: DropLogState = 'starting'

  constructor(private readonly sources: DropLogSources) {}

  start(): void {
    const [file, ...args] = this.sources.command ?? // no -s: tcpdump 4.99 / libpcap 1.10 with a small snaplen corrupts every few NFLOG records
      ['tcpdump', '-i', `nflog:${DROP_LOG_GROUP}`, '-U', '-n', '-w', '-']
    const reader = new NflogPcapReader()
    const record = this.sources.readerRecord
    // a reader a killed daemon left would keep the NFLOG group from ours
    if (record !== undefined) this.recorded(() => endLeftReader(record, [file, ...args]))
    const child = childProcess().spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    if (record !== undefined && child.pid !== undefined) this.recorded(() => recordReader(record, child.pid as number))
    let cannotRun = false
    child.on('error', (err: NodeJS.ErrnoException) => {
      cannotRun = true
      this.setState(`unavailable: ${err.code === 'ENOENT' ? `${file} not found` : (err.code ?? err.message)}`)
    })
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      if (text.includes('listening on')) this.setState('listening')
    })
    child.stdout?.on('data', (chunk: Buffer) => {
      try {
        for (const record of reader.push(chunk)) if (record.prefix === DROP_LOG_PREFIX) this.take(record)
      } catch (err) {
        this.sources.log(`drop log: ${(err as Error).message}`)
        child.kill()
      }
    })
    child.on('close', (code) => {
      // a reader that cannot run at all is not retried every second
      if (this.stopped || cannotRun) return
      if (!this.state.startsWith('unavailable')) this.setState(`unavailable: reader exited (${code ?? 'signal'}), restarting`)
      setTimeout(() => this.stopped || this.start(), RESTART_MS).unref()
    })
  }

  /** Ends the reader; resolves once it exited (so none is left behind unreaped), within `boundMs`. */
  async stop(boundMs = 2000): Promise<void> {
    this.stopped = true
    this.followers.clear()
    const child = this.child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
    child.kill()
    await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, boundMs).unref())])
    // a reader that did not end within the bound stays recorded: the next daemon ends it
    const record = this.sources.readerRecord
    if (record !== undefined && (child.exitCode !== null || child.signalCode !== null)) this.recorded(() => forgetReader(record))
  }

  /** The drops kept, oldest first, of one VM or all. */
  recent(vm?: string): Drop[] {
    return vm === undefined ? [...this.kept] : this.kept.filter((d) => d.vm === vm)
  }

  /** Calls `onDrop` with every drop from now on, until the returned function is called. */
  follow(onDrop: (drop: Drop) => void): () => void {
    this.followers.add(onDrop)
    return () => this.followers.delete(onDrop)
  }

  /** The reader's record read, written or removed; failing (unreadable, a full disk), the log says so and goes on. */
  private recorded(use: () => void): void {
    try {
      use()
    } catch (err) {
      this.sources.log(`drop log: its reader's record ${this.sources.readerRecord}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
  }

  private setState(state: DropLogState): void {
    if (state === this.state) return
    this.state = state
    this.sources.log(`drop log: ${state}`)
  }

  private take(record: Parameters<typeof attribute>[0]): void {
    const drop = attribute(record, this.sources.vms(), this.sources.context())
    this.kept.push(drop)
    if (this.kept.length > MAX_KEPT) this.kept.shift()
    for (const follower of this.followers) follower(drop)
  }
}
