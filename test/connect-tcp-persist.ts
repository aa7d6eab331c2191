// qvm-connect-tcp --persist: the systemd unit pair of Qubes' docs, and rc.local lines that
// install and start it at boot, written idempotently next to what the user keeps there.
import { execFile } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { parseBinding } from '../vm-hooks/connect-tcp/binding.js'
import { rcLocalBlock, serviceUnit, socketUnit, withBlock } from '../vm-hooks/connect-tcp/persist.js'
import { built } from './helpers/built.js'
import { outcome, type Outcome } from './helpers/outcome.js'

const exec = promisify(execFile)
const BIN = built('vm-hooks/bin/qvm-connect-tcp.js')

const cli = (...args: string[]): Promise<Outcome> => outcome(process.execPath, [BIN, ...args])

function rwDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'qct-rw-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const mode = (path: string) => statSync(path).mode & 0o777

t.test('the unit pair of Qubes\' docs, 127.0.0.1 only', async (t) => {
  const cases: [spec: string, socket: string, service: string][] = [
    [
      '444:@default:444',
      '[Unit]\nDescription=qvm-connect-tcp socket 444 (444:@default:444)\n\n[Socket]\nListenStream=127.0.0.1:444\nAccept=true\n\n[Install]\nWantedBy=sockets.target\n',
      "[Unit]\nDescription=qvm-connect-tcp service 444 (444:@default:444)\n\n[Service]\nExecStart=qrexec-client-vm '@default' qubes.ConnectTCP+444\nStandardInput=socket\nStandardOutput=inherit\n",
    ],
    [
      '10444:mytcp-service:444',
      '[Unit]\nDescription=qvm-connect-tcp socket 10444 (10444:mytcp-service:444)\n\n[Socket]\nListenStream=127.0.0.1:10444\nAccept=true\n\n[Install]\nWantedBy=sockets.target\n',
      "[Unit]\nDescription=qvm-connect-tcp service 10444 (10444:mytcp-service:444)\n\n[Service]\nExecStart=qrexec-client-vm 'mytcp-service' qubes.ConnectTCP+444\nStandardInput=socket\nStandardOutput=inherit\n",
    ],
  ]
  t.plan(cases.length)
  for (const [spec, socket, service] of cases) {
    t.test(spec, async (t) => {
      const binding = parseBinding(spec)
      t.equal(socketUnit(binding), socket)
      t.equal(serviceUnit(binding), service)
    })
  }
})

t.test('rc.local blocks: added, replaced in place, removed; the rest kept byte for byte', async (t) => {
  const block = rcLocalBlock(parseBinding('444:@default:444'), "/rw/config/it's here")
  t.equal(
    block,
    "# BEGIN qvm-connect-tcp-444 (qvm-connect-tcp --persist 444:@default:444)\n" +
      "cp '/rw/config/it'\\''s here/qvm-connect-tcp-444.socket' '/rw/config/it'\\''s here/qvm-connect-tcp-444@.service' /run/systemd/system/\n" +
      'systemctl daemon-reload\n' +
      'systemctl start qvm-connect-tcp-444.socket\n' +
      '# END qvm-connect-tcp-444\n',
  )
  const user = '#!/bin/sh\necho mine\n'
  const added = withBlock(user, 444, block)
  t.equal(added, user + block)
  t.equal(withBlock('#!/bin/sh\necho no newline', 444, block), '#!/bin/sh\necho no newline\n' + block)
  t.equal(withBlock(added, 444, block), added, 'the same block again: unchanged')
  const other = rcLocalBlock(parseBinding('444:personal:80'), '/rw/config/qvm-connect-tcp')
  const replaced = withBlock(added + 'echo after\n', 444, other)
  t.equal(replaced, user + other + 'echo after\n', 'replaced where it was')
  t.equal(withBlock(replaced, 444, undefined), user + 'echo after\n')
  t.equal(withBlock(user, 444, undefined), user, 'nothing to remove')
  t.equal(withBlock(user + '# BEGIN qvm-connect-tcp-4444 (x)\n# END qvm-connect-tcp-4444\n', 444, undefined), user + '# BEGIN qvm-connect-tcp-4444 (x)\n# END qvm-connect-tcp-4444\n', '4444 is not 444')
  t.throws(() => withBlock(user + '# BEGIN qvm-connect-tcp-444 (x)\ncp a b\n', 444, block), { message: "rc.local: '# BEGIN qvm-connect-tcp-444' has no '# END qvm-connect-tcp-444' line: fix it by hand" })
})

t.test('--persist writes the units and rc.local; again, nothing changes', async (t) => {
  const dir = rwDir(t)
  const first = await cli('--persist', '444:@default:444', '--rw-dir', dir)
  t.same(first, {
    code: 0,
    stderr: '',
    stdout:
      `wrote ${dir}/qvm-connect-tcp/qvm-connect-tcp-444.socket\n` +
      `wrote ${dir}/qvm-connect-tcp/qvm-connect-tcp-444@.service\n` +
      `${dir}/rc.local: added the lines that install and start it at boot\n` +
      `qvm-connect-tcp-444.socket starts at the next boot (or run ${dir}/rc.local now)\n`,
  })
  t.equal(readFileSync(join(dir, 'qvm-connect-tcp/qvm-connect-tcp-444.socket'), 'utf8'), socketUnit(parseBinding('444:@default:444')))
  t.equal(readFileSync(join(dir, 'qvm-connect-tcp/qvm-connect-tcp-444@.service'), 'utf8'), serviceUnit(parseBinding('444:@default:444')))
  const rcLocal = readFileSync(join(dir, 'rc.local'), 'utf8')
  t.match(rcLocal, /^#!\/bin\/sh\n/)
  t.ok(rcLocal.endsWith(rcLocalBlock(parseBinding('444:@default:444'), join(dir, 'qvm-connect-tcp'))))
  t.equal(mode(join(dir, 'rc.local')), 0o755)
  t.equal((await exec('sh', ['-n', join(dir, 'rc.local')]).then(() => 0, () => 1)), 0, 'sh reads it')
  const again = await cli('--persist', '444:@default:444', '--rw-dir', dir)
  t.match(again.stdout, /rc\.local: already installs and starts it at boot\n/)
  t.equal(readFileSync(join(dir, 'rc.local'), 'utf8'), rcLocal, 'byte-identical')
})

t.test('--persist next to the user\'s own rc.local, another port, a changed binding, --unpersist', async (t) => {
  const dir = rwDir(t)
  const user = '#!/bin/sh\n# mine\nmount --bind /rw/stuff /opt/stuff\n'
  writeFileSync(join(dir, 'rc.local'), user)
  chmodSync(join(dir, 'rc.local'), 0o644)
  const first = await cli('--persist', '::8080', '--rw-dir', dir)
  t.match(first.stdout, new RegExp(`${dir}/rc\\.local: made executable \\(it runs only then\\)\\n`))
  t.equal(mode(join(dir, 'rc.local')), 0o755)
  await cli('--persist', '10444:mytcp-service:444', '--rw-dir', dir)
  const changed = await cli('--persist', '8080:personal:80', '--rw-dir', dir)
  t.match(changed.stdout, /rc\.local: updated the lines that install and start it at boot\n/)
  const text = readFileSync(join(dir, 'rc.local'), 'utf8')
  t.ok(text.startsWith(user), 'the user\'s lines first, untouched')
  t.equal(text.match(/# BEGIN qvm-connect-tcp-8080 /g)?.length, 1, 'one block for 8080')
  t.match(text, /--persist 8080:personal:80\)/)
  t.notMatch(text, /8080:@default:8080/)
  t.match(readFileSync(join(dir, 'qvm-connect-tcp/qvm-connect-tcp-8080@.service'), 'utf8'), /ExecStart=qrexec-client-vm 'personal' qubes\.ConnectTCP\+80\n/)
  const removed = await cli('--unpersist', '8080', '--rw-dir', dir)
  t.same(removed, {
    code: 0,
    stderr: '',
    stdout:
      `removed ${dir}/qvm-connect-tcp/qvm-connect-tcp-8080.socket\n` +
      `removed ${dir}/qvm-connect-tcp/qvm-connect-tcp-8080@.service\n` +
      `${dir}/rc.local: removed its lines\n`,
  })
  t.equal(readFileSync(join(dir, 'rc.local'), 'utf8'), user + rcLocalBlock(parseBinding('10444:mytcp-service:444'), join(dir, 'qvm-connect-tcp')))
  t.notOk(existsSync(join(dir, 'qvm-connect-tcp/qvm-connect-tcp-8080.socket')))
  t.same(await cli('--unpersist', '8080', '--rw-dir', dir), { code: 1, stdout: '', stderr: `qvm-connect-tcp: error: no persistent binding on local port 8080 in ${dir}\n` })
})

t.test('a broken block: one error line, rc.local byte-identical', async (t) => {
  const dir = rwDir(t)
  const broken = '#!/bin/sh\n# BEGIN qvm-connect-tcp-444 (by hand)\nsystemctl start x\n'
  writeFileSync(join(dir, 'rc.local'), broken, { mode: 0o755 })
  t.same(await cli('--persist', '444:@default:444', '--rw-dir', dir), {
    code: 1,
    stdout: '',
    stderr: "qvm-connect-tcp: error: rc.local: '# BEGIN qvm-connect-tcp-444' has no '# END qvm-connect-tcp-444' line: fix it by hand\n",
  })
  t.equal(readFileSync(join(dir, 'rc.local'), 'utf8'), broken)
  t.notOk(existsSync(join(dir, 'qvm-connect-tcp')), 'no unit written either')
})
