// The drop log's reader record: a daemon ends the reader a killed one left, and nothing else: not a
// process that reuses its pid (another start time), not one running another command.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { endLeftReader, recordReader } from '../netvm-agent/droplog/reader-record.js'
import { untilGone } from './helpers/wait.js'

/** A stand-in reader: `cat`, which answers each line while it lives. */
const COMMAND = ['cat']

function started(t: { teardown: (fn: () => void) => void }): ChildProcessWithoutNullStreams {
  const child = spawn(COMMAND[0] as string, COMMAND.slice(1))
  t.teardown(() => void child.kill('SIGKILL'))
  return child
}

/** It answers a line: alive after whatever came before (a process sent SIGKILL runs no more code). */
const answers = (child: ChildProcessWithoutNullStreams): Promise<boolean> =>
  new Promise((resolve) => {
    child.stdout.once('data', () => resolve(true))
    child.once('exit', () => resolve(false))
    child.stdin.write('ping\n')
  })

t.test('the recorded reader, still running its command, is ended; the record goes', async (t) => {
  const record = join(t.testdir(), 'drop-log-reader')
  const reader = started(t)
  recordReader(record, reader.pid as number)
  t.match(readFileSync(record, 'utf8'), new RegExp(`^${reader.pid} [0-9]+\\n$`))
  endLeftReader(record, COMMAND)
  await untilGone(reader.pid as number)
  t.throws(() => readFileSync(record), { code: 'ENOENT' })
})

t.test('another start time (a reused pid), another command line or no record: left running', async (t) => {
  const record = join(t.testdir(), 'drop-log-reader')
  const reader = started(t)
  const pid = reader.pid as number
  recordReader(record, pid)
  const [, start] = readFileSync(record, 'utf8').trim().split(' ')
  writeFileSync(record, `${pid} ${Number(start) - 1}\n`)
  endLeftReader(record, COMMAND)
  t.ok(await answers(reader), 'another start time')
  recordReader(record, pid)
  endLeftReader(record, ['tcpdump', '-i', 'nflog:11'])
  t.ok(await answers(reader), 'another command')
  endLeftReader(record, COMMAND)
  t.ok(await answers(reader), 'no record (the one before was removed)')
})
