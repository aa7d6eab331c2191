// One change at a time, whoever asks (the socket's clients, QubesDB, SIGHUP, expiry): each piece of
// work starts when the one before it ended, whether that one succeeded or failed.
export type Exclusive = <T>(work: () => Promise<T> | T) => Promise<T>

export function serialised(): Exclusive {
  let last = Promise.resolve<unknown>(undefined)
  return <T>(work: () => Promise<T> | T): Promise<T> => {
    const next = last.then(work, work)
    last = next.catch(() => undefined)
    return next
  }
}

/**
 * `exclusive`, and `after` once each piece of work is done: after its caller has had the result
 * (the daemon's answer goes out first: dom0 need not wait while the daemon's timers move on), and
 * at the latest as the next piece of work starts, which thus finds it done.
 */
export function thenSoonAfter(exclusive: Exclusive, after: () => void): Exclusive {
  let due = false
  const runDue = () => {
    if (!due) return
    due = false
    after()
  }
  return (work) =>
    exclusive(() => {
      runDue()
      return work()
    }).finally(() => {
      due = true
      setImmediate(runDue)
    })
}
