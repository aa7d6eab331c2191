// Watches over the store's events log: qubesdb-watch, and the wait of qubesdb-read -w.
import { EventFollower } from './events.js'
import { isValidPath, watchFires } from './path.js'
import { EXIT_FAILED, type Session } from './session.js'
import type { QubesDbStore } from './store.js'

/**
 * watch [-n N] PATH...: prints each fired path a line, once for every watch it matches (the daemon
 * sends an event per matching watch), until N lines are printed (negative N: no end).
 */
export async function watch(session: Session, paths: readonly string[]): Promise<number> {
  if (paths.length === 0) return 0
  const refused = paths.find((path) => !isValidPath(path))
  if (refused !== undefined) {
    session.complain(`Failed to setup watch on ${refused}`)
    return EXIT_FAILED
  }
  let remaining = session.options.watchCount
  if (remaining === 0) return 0
  const follower = new EventFollower(session.store.eventsLog)
  try {
    await follower.follow((fired) => {
      for (const path of paths) {
        if (!watchFires(path, fired)) continue
        session.out.print(`${fired}\n`)
        remaining--
        // the real tool dies of SIGPIPE once its reader is gone
        if (remaining === 0 || session.out.failed) return false
      }
      return true
    })
  } finally {
    follower.close()
  }
  return 0
}

/** read -w: the value once the entry exists (written now, or by someone later). */
export async function waitForEntry(store: QubesDbStore, path: string): Promise<string> {
  const follower = new EventFollower(store.eventsLog)
  let value = store.read(path)
  try {
    if (value === undefined) {
      await follower.follow((fired) => {
        if (watchFires(path, fired)) value = store.read(path)
        return value === undefined
      })
    }
  } finally {
    follower.close()
  }
  return value as string
}
