// The lab's QubesDB tools (lab/qubesdb-bin over a directory) against the real qubesdb-cmd's
// interface: options, output, error lines and exit codes, the daemon's path rules and watch
// semantics, and stdio's buffering of a watch on a pipe. Run as the agent runs them: from PATH.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readdirSync, readlinkSync, realpathSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { outcome, type Outcome } from './helpers/outcome.js'
import { isAlive, until } from './helpers/wait.js'

const BIN = join(resolve(fileURLToPath(new URL('.', import.meta.url)), '..'), 'lab/qubesdb-bin')
const scratch = mkdtempSync(join(tmpdir(), 'qf-qubesdb-'))
const started: ChildProcess[] = []
t.teardown(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill()
  rmSync(scratch, { recursive: true, force: true })
})

let stores = 0
/** A fresh, empty QubesDB and the environment that reaches it. */
function newStore(): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = realpathSync(mkdtempSync(join(scratch, `db${stores++}-`)))
  const env = { ...process.env, PATH: `${BIN}:${process.env['PATH']}`, QUBESDB_DIR: dir, _STDBUF_O: undefined, LD_PRELOAD: undefined }
  return { dir, env }
}

// byte strings both ways (latin1), so the \xNN escaping and raw bytes are seen as they are
const qdb = (env: NodeJS.ProcessEnv, tool: string, ...args: string[]): Promise<Outcome> =>
  outcome(join(BIN, `qubesdb-${tool}`), args, { env, encoding: 'latin1' })
const ok = (stdout = ''): Outcome => ({ code: 0, stdout, stderr: '' })

type Case = [args: string[], want: Outcome]
/** One subtest per case, in turn: a case may see what the one before it did. */
async function runCases(t: Test, env: NodeJS.ProcessEnv, cases: Case[]): Promise<void> {
  for (const [[tool = '', ...args], want] of cases) {
    await t.test(`qubesdb-${tool} ${args.join(' ')}`.slice(0, 120), async (t) => {
      t.same(await qdb(env, tool, ...args), want)
    })
  }
}

t.test('read: values, exit 2 for a missing entry, --default, options anywhere', async (t) => {
  const { env } = newStore()
  t.same(await qdb(env, 'write', '/a/b', '1', '/a/c', 'x\x01y'), ok())
  await runCases(t, env, [
    [['read', '/a/b'], ok('1\n')],
    [['read', '/a/c'], ok('x\\x01y\n')],
    [['read', '/a/c', '-r'], ok('x\x01y\n')],
    [['read', '-f', '/a/b'], ok('/a/b = 1\n')],
    [['read', '/a/b', '/nope'], { code: 2, stdout: '1\n', stderr: 'Failed to read /nope\n' }],
    [['read', '-q', '/nope'], { code: 2, stdout: '', stderr: '' }],
    [['read', '/a/'], { code: 2, stdout: '', stderr: 'Failed to read /a/\n' }],
    [['read', '/nope', 'no-slash'], { code: 1, stdout: '', stderr: 'Failed to read /nope\nFailed to read no-slash\n' }],
    [['read', '--default', 'none', '/nope'], ok('none\n')],
    [['read', '-e', 'none', '/a/b'], ok('1\n')],
    [['read', '--def=none', '/a/b', '/nope'], { code: 1, stdout: '', stderr: '--default only valid with exactly 1 path to read\n' }],
    [['list', '-e', 'x', '/'], { code: 1, stdout: '', stderr: '--default valid only for read command\n' }],
    [['read', '-n', '1', '/a/b'], { code: 1, stdout: '', stderr: '-n valid only for watch command\n' }],
    [['cmd', '-c', 'read', '/a/b'], ok('1\n')],
    [['cmd', '-f', '-c', 'read', '/a/b'], { code: 1, stdout: '', stderr: '-c must be first argument\n' }],
    [['read', '-c', 'read', '/a/b'], { code: 1, stdout: '', stderr: '-c only valid for qubesdb-cmd\n' }],
    [['read', '-d', 'dom0', '/a/b'], { code: 1, stdout: '', stderr: 'Failed connect to dom0 daemon\n' }],
  ])
})

t.test('no store, no command, a bad option', async (t) => {
  const { env } = newStore()
  t.same(await qdb({ ...env, QUBESDB_DIR: undefined }, 'read', '/a'), { code: 1, stdout: '', stderr: 'Failed connect to local daemon\n' })
  t.match(await qdb(env, 'cmd', '/a'), { code: 0, stdout: '', stderr: /^Usage: qubesdb-cmd \[-frq\]/ })
  t.match(await qdb(env, 'read', '-z', '/a'), { code: 1, stdout: '', stderr: /^qubesdb-read: invalid option -- 'z'\nUsage: qubesdb-read / })
  // getopt reads a negative value as options: the real tool needs '--' too
  t.match(await qdb(env, 'write', '/n', '-1'), { code: 1, stderr: /^qubesdb-write: invalid option -- '1'\n/ })
  t.same(await qdb(env, 'write', '--', '/n', '-1'), ok())
})

t.test("-d NAME: in the lab's dom0, the store of that qube under $QUBESDB_DOMAINS_DIR", async (t) => {
  const { dir, env } = newStore()
  const dom0 = { ...env, QUBESDB_DIR: undefined, QUBESDB_DOMAINS_DIR: dirname(dir) }
  t.same(await qdb(dom0, 'write', '-d', basename(dir), '/from/dom0', 'v'), ok())
  t.same(await qdb(env, 'read', '/from/dom0'), ok('v\n'), "the qube reads what dom0 wrote to it")
  t.same(await qdb(dom0, 'read', '-d', '../escape', '/from/dom0'), { code: 1, stdout: '', stderr: 'Failed connect to ../escape daemon\n' })
})

t.test('multiread: SUBPATH = VALUE by plain prefix, in byte order, escaped unless -r', async (t) => {
  const { env } = newStore()
  const fw = '/qubes-firewall/10.137.0.5'
  t.same(await qdb(env, 'write', `${fw}/0001`, 'action=accept', `${fw}0/0000`, 'x', `${fw}/0000`, 'action=drop', fw, '', '/esc', 'tab\there é\x7f'), ok())
  // é is sent as UTF-8 (c3 a9) and read back as bytes
  await runCases(t, env, [
    [['multiread', `${fw}/`], ok('0000 = action=drop\n0001 = action=accept\n')],
    [['multiread', fw], ok(' = \n/0000 = action=drop\n/0001 = action=accept\n0/0000 = x\n')],
    [['multiread', '-f', `${fw}/`], ok(`${fw}/0000 = action=drop\n${fw}/0001 = action=accept\n`)],
    [['multiread', '/esc'], ok(' = tab\\x09here \\xc3\\xa9\x7f\n')],
    [['multiread', '-r', '/esc'], ok(' = tab\there \u00c3\u00a9\x7f\n')],
    [['multiread', '/none/', '/es'], ok('c = tab\\x09here \\xc3\\xa9\x7f\n')],
    [['multiread', 'esc', '/esc'], { code: 1, stdout: ' = tab\\x09here \\xc3\\xa9\x7f\n', stderr: 'Failed to read esc\n' }],
  ])
})

t.test('list: one subpath a line, exactly one path', async (t) => {
  const { env } = newStore()
  t.same(await qdb(env, 'write', '/b', '1', '/a/x', '2', '/a/y/z', '3'), ok())
  await runCases(t, env, [
    [['list', '/'], ok('a/x\na/y/z\nb\n')],
    [['list', '-f', '/a/'], ok('/a/x\n/a/y/z\n')],
    [['list', '/a/', '/b'], { code: 1, stdout: '', stderr: 'LIST command accept only one path\n' }],
    [['list', '-q', 'a'], { code: 1, stdout: '', stderr: '' }],
    [['list', 'a'], { code: 1, stdout: '', stderr: 'Failed to get entries list\n' }],
  ])
})

t.test('write: pairs in turn, the daemon\'s limits (path < 64, value < 3072 bytes)', async (t) => {
  const { env } = newStore()
  const path63 = `/${'p'.repeat(62)}`
  await runCases(t, env, [
    [['write', '/w/1', 'one', '/w/2', '', '/w/3', 'a = b'], ok()],
    [['write', '/w/4', '4', '/w/5'], { code: 1, stdout: '', stderr: 'Invalid number of parameters\n' }],
    [
      ['write', '/w/6', '6', '/w/', 'dir', '/w/a b', 'x', 'w/7', '7', '/w/8', '8'],
      { code: 1, stdout: '', stderr: 'Failed to write /w/\nFailed to write /w/a b\nFailed to write w/7\n' },
    ],
    [['write', path63, 'v', `${path63}x`, 'v'], { code: 1, stdout: '', stderr: `Failed to write ${path63}x\n` }],
    [['write', '-q', '/w/big', 'v'.repeat(3072), '/w/max', 'v'.repeat(3071)], { code: 1, stdout: '', stderr: '' }],
    [['multiread', '/w/'], ok('1 = one\n2 = \n3 = a = b\n6 = 6\n8 = 8\nmax = ' + 'v'.repeat(3071) + '\n')],
    [['list', '/p'], ok(`${'p'.repeat(61)}\n`)],
  ])
})

t.test('rm: an entry, or with a trailing / all under it; nothing to remove is no error', async (t) => {
  const { env } = newStore()
  t.same(await qdb(env, 'write', '/d', '0', '/d/1', '1', '/d/2/3', '3', '/d0/1', 'x', '/r', 'read me'), ok())
  await runCases(t, env, [
    [['rm', '/d'], ok()],
    [['list', '/d'], ok('/1\n/2/3\n0/1\n')],
    [['rm', '/d/', '/missing', '/missing/'], ok()],
    [['list', '/d'], ok('0/1\n')],
    [['rm', 'd0', '/d0/1'], { code: 1, stdout: '', stderr: 'Failed to remove d0\n' }],
    [['read', '-x', '/r'], ok('read me\n')],
    [['list', '/'], ok('')],
  ])
})

interface Watcher {
  child: ChildProcess
  /** Each chunk of stdout, with how many changes had begun when it came. */
  chunks: { text: string; changesBegun: number }[]
  output(): string
  closed: Promise<[code: number | null, signal: NodeJS.Signals | null]>
}

let changesBegun = 0
/** A change made while watchers run: counted first, so a chunk that comes after it is tagged with it. */
function change(env: NodeJS.ProcessEnv, tool: string, ...args: string[]): Promise<Outcome> {
  changesBegun++
  return qdb(env, tool, ...args)
}

/** A watch registers when its process holds the store's events log open (its start is fixed before). */
function holdsEventsLog(pid: number, dir: string): boolean {
  const target = (fd: string): string | undefined => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`)
    } catch {
      return undefined
    }
  }
  return readdirSync(`/proc/${pid}/fd`).some((fd) => target(fd) === join(dir, 'events.log'))
}

async function startWatcher(store: { dir: string; env: NodeJS.ProcessEnv }, command: string[]): Promise<Watcher> {
  const [file = '', ...args] = command
  const child = spawn(file.startsWith('qubesdb') ? join(BIN, file) : file, args, { env: store.env, stdio: ['ignore', 'pipe', 'inherit'] })
  started.push(child)
  const chunks: Watcher['chunks'] = []
  child.stdout?.setEncoding('latin1').on('data', (text: string) => chunks.push({ text, changesBegun }))
  const closed = once(child, 'close') as Watcher['closed']
  await until(`${command.join(' ')} registered`, () => {
    if (child.exitCode !== null || child.pid === undefined) throw new Error(`${command.join(' ')} ended before its watch was registered`)
    return holdsEventsLog(child.pid, store.dir)
  })
  return { child, chunks, output: () => chunks.map((c) => c.text).join(''), closed }
}

t.test('watch: fired paths in order, a trailing / watches all under it, one line per matching watch', async (t) => {
  const store = newStore()
  const { env } = store
  t.same(await qdb(env, 'write', '/a/d/e', 'before the watches'), ok())
  const prefix = await startWatcher(store, ['qubesdb-watch', '-n', '4', '/a/'])
  const exact = await startWatcher(store, ['qubesdb-watch', '-n', '2', '/a/d/e', '/z'])
  const twice = await startWatcher(store, ['qubesdb-watch', '-n', '2', '/b/', '/b/y'])
  const waiting = await startWatcher(store, ['qubesdb-read', '-w', '/z'])
  t.same(await qdb(env, 'rm', '/a/d/'), ok(), 'fires /a/d/ only')
  t.same(await qdb(env, 'write', '/a/x', '1', '/b/y', '2'), ok())
  t.same(await qdb(env, 'rm', '/a/x', '/a/none'), ok())
  t.same(await qdb(env, 'write', '/z', 'zed', '/a/d/e', '2'), ok())
  t.same(await prefix.closed, [0, null])
  t.equal(prefix.output(), '/a/d/\n/a/x\n/a/x\n/a/d/e\n')
  t.same(await exact.closed, [0, null])
  t.equal(exact.output(), '/z\n/a/d/e\n', 'an rm of /a/d/ fires /a/d/, not a watch on /a/d/e')
  t.same(await twice.closed, [0, null])
  t.equal(twice.output(), '/b/y\n/b/y\n', 'a path two watches match: two lines')
  t.same(await waiting.closed, [0, null])
  t.equal(waiting.output(), 'zed\n', 'read -w: the value once written')
  await runCases(t, env, [
    [['watch', '-n', '0', '/a/'], ok()],
    [['watch', '-q'], ok()],
    [['watch', '/a/', 'a'], { code: 1, stdout: '', stderr: 'Failed to setup watch on a\n' }],
  ])
})

t.test('watch on a pipe: nothing until it exits, unless stdbuf -oL or _STDBUF_O=L', async (t) => {
  const store = newStore()
  const { env } = store
  const lineBuffered = await startWatcher(store, ['stdbuf', '-oL', 'qubesdb-watch', '-n', '-1', '/a/'])
  const byEnvironment = await startWatcher({ ...store, env: { ...env, _STDBUF_O: 'L' } }, ['qubesdb-watch', '-n', '-1', '/a/'])
  const blockBuffered = await startWatcher(store, ['qubesdb-watch', '-n', '2', '/a/'])
  t.same(await change(env, 'write', '/a/1', '1'), ok())
  await until('/a/1 through stdbuf -oL', () => lineBuffered.output() === '/a/1\n')
  await until('/a/1 with _STDBUF_O=L', () => byEnvironment.output() === '/a/1\n')
  t.same(await change(env, 'write', '/a/2', '2'), ok())
  await until('/a/2 through stdbuf -oL', () => lineBuffered.output() === '/a/1\n/a/2\n')
  await until('/a/2 with _STDBUF_O=L', () => byEnvironment.output() === '/a/1\n/a/2\n')
  t.ok(isAlive(lineBuffered.child.pid as number), 'the line-buffered watches run on')
  t.same(await blockBuffered.closed, [0, null], 'the block-buffered watch exits after its 2 events')
  t.same(blockBuffered.chunks, [{ text: '/a/1\n/a/2\n', changesBegun }], 'all of it at once, at its exit: nothing after the first event')
  lineBuffered.child.kill()
  byEnvironment.child.kill()
})

t.test('watch on a pipe writes 4 KiB blocks as they fill, the rest at exit', async (t) => {
  const store = newStore()
  // 61-byte lines: 67 of them and 9 bytes of the 68th make the first block
  const paths = Array.from({ length: 100 }, (_, i) => `/big/${String(i).padStart(3, '0')}${'x'.repeat(52)}`)
  const watcher = await startWatcher(store, ['qubesdb-watch', '-n', '100', '/big/'])
  t.same(await qdb(store.env, 'write', ...paths.slice(0, 68).flatMap((path) => [path, 'v'])), ok())
  await until('the first block', () => watcher.output().length >= 4096)
  t.equal(watcher.output(), paths.slice(0, 68).join('\n').slice(0, 4096), 'one block, cut mid-line')
  t.ok(isAlive(watcher.child.pid as number), 'while the watch waits for more')
  t.same(await qdb(store.env, 'write', ...paths.slice(68).flatMap((path) => [path, 'v'])), ok())
  t.same(await watcher.closed, [0, null])
  t.equal(watcher.output(), `${paths.join('\n')}\n`)
})

t.test('20 concurrent writers of distinct paths all land, each watched', async (t) => {
  const store = newStore()
  const paths = Array.from({ length: 20 }, (_, i) => `/c/${String(i).padStart(2, '0')}`)
  const watcher = await startWatcher(store, ['stdbuf', '-oL', 'qubesdb-watch', '-n', '20', '/c/'])
  const results = await Promise.all(paths.map((path) => qdb(store.env, 'write', path, `value of ${path}`)))
  t.same(results, paths.map(() => ok()))
  t.same(await qdb(store.env, 'multiread', '-f', '/c/'), ok(paths.map((path) => `${path} = value of ${path}\n`).join('')))
  t.same(await watcher.closed, [0, null])
  t.same(watcher.output().split('\n').slice(0, -1).sort(), paths, 'every write fired once')
})
