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
