// What a command runs with: the store, stdout as stdio buffers it, the options, and stderr.
import type { Options } from './options.js'
import type { Stdout } from './output.js'
import type { QubesDbStore } from './store.js'

/** The real tool's exit codes: 0 done, 1 failed, 2 (read only) an entry did not exist and nothing else failed. */
export const EXIT_FAILED = 1
export const EXIT_NO_ENTRY = 2

export interface Session {
  readonly store: QubesDbStore
  readonly out: Stdout
  readonly options: Options
  /** One error line on stderr, unless -q. */
  complain(line: string): void
  /** One error line on stderr, even with -q (the real tool's usage errors). */
  say(line: string): void
}
