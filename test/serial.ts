// The daemon's one-change-at-a-time queue (daemon/serial.ts) and what runs after each change: the
// caller has its result before `after` runs, `after` runs without anyone asking, and a change
// queued behind finds it done when it starts.
import t from 'tap'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { serialised, thenSoonAfter } from '../netvm-agent/daemon/serial.js'

t.test('one piece of work at a time, in the order asked, a failure included', async (t) => {
  const exclusive = serialised()
  const log: string[] = []
  let release = () => {}
  const first = exclusive(() => new Promise<void>((resolve) => (release = resolve)).then(() => log.push('first')))
  const failing = exclusive(() => {
    log.push('failing')
    throw new Error('refused')
  })
  const third = exclusive(() => log.push('third'))
  await nextTurn()
  t.same(log, [], 'nothing started behind the first while it runs')
  release()
  await first
  await t.rejects(failing, /refused/)
  await third
  t.same(log, ['first', 'failing', 'third'])
})

t.test('after each change: once its caller has the result, by itself soon, or as the next change starts', async (t) => {
  let afters = 0
  const exclusive = thenSoonAfter(serialised(), () => afters++)
  t.equal(await exclusive(() => 'answer'), 'answer')
  t.equal(afters, 0, 'the caller has its result first')
  await nextTurn()
  t.equal(afters, 1, 'then it runs without being asked')
  await nextTurn()
  t.equal(afters, 1, 'once')

  // a change queued at once behind another finds `after` done when it starts
  const seen: number[] = []
  const one = exclusive(() => seen.push(afters))
  const two = exclusive(() => seen.push(afters))
  await Promise.all([one, two])
  t.same(seen, [1, 2], "the second change started after the first one's `after`")
  await nextTurn()
  t.equal(afters, 3)

  await t.rejects(
    exclusive(() => {
      throw new Error('refused')
    }),
    /refused/,
  )
  await nextTurn()
  t.equal(afters, 4, 'a change that failed is followed too')
})
