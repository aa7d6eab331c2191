// npm run bench: our applies against the floor of plain `nft -f` of the same ruleset, in one run.
// Runs itself inside a private network namespace; prints medians and ratios.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Agent } from '../netvm-agent/agent.js'
import { realEffects } from '../netvm-agent/effects.js'
import { runNft } from '../netvm-agent/nft/run.js'
import { parsePush } from '../netvm-agent/push/parse.js'

const VMS = Number(process.env['BENCH_VMS'] ?? 500)
const RULES = Number(process.env['BENCH_RULES'] ?? 50)
const UPDATES = Number(process.env['BENCH_UPDATES'] ?? 20)
const REPS = Number(process.env['BENCH_REPS'] ?? 3)

if (!process.env['QF_BENCH_INSIDE']) {
  const ns = `qfbench${process.pid}`
  execFileSync('ip', ['netns', 'add', ns])
  try {
    const run = spawnSync('ip', ['netns', 'exec', ns, process.execPath, process.argv[1] ?? ''], {
      stdio: 'inherit',
      env: { ...process.env, QF_BENCH_INSIDE: '1' },
    })
    process.exitCode = run.status ?? 1
  } finally {
    execFileSync('ip', ['netns', 'del', ns])
  }
} else {
  await main()
}

function vmIp(i: number): string {
  const qid = i + 2
  return `10.137.${qid >> 8}.${qid & 255}`
}

/** A realistic mix without names: networks, single ports, ranges, udp, icmp, dns, drops. */
function vmEntries(i: number, rules: number, variant = 0): Record<string, string> {
  const ip = vmIp(i)
  const entries: Record<string, string> = { [`/qubes-firewall/${ip}`]: '', [`/qubes-firewall/${ip}/policy`]: 'drop' }
  for (let r = 0; r < rules; r++) {
    const n = (r + variant) % 6
    const net = `${(r * 7 + i) % 223 + 1}.${r % 256}.${i % 256}.0/24`
    const rule = [
      `action=accept dst4=${net} proto=tcp dstports=443-443`,
      `action=accept dst4=${net} proto=tcp dstports=${1000 + r}-${2000 + r}`,
      `action=drop dst4=${net} proto=udp dstports=${r + 1}-${r + 1}`,
      `action=accept proto=icmp icmptype=8`,
      `action=accept specialtarget=dns`,
      `action=drop dst4=${(r % 200) + 10}.${i % 256}.${r % 256}.${i % 200}`,
    ][n]
    entries[`/qubes-firewall/${ip}/${String(r).padStart(4, '0')}`] = rule as string
  }
  return entries
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? NaN
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await work()
  return performance.now() - start
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qf-bench-'))
  const resolvConf = join(dir, 'resolv.conf')
  writeFileSync(resolvConf, 'nameserver 192.0.2.53\n')
  const all: Record<string, string> = { '/connected-ips': Array.from({ length: VMS }, (_, i) => vmIp(i)).join(' ') }
  for (let i = 0; i < VMS; i++) Object.assign(all, vmEntries(i, RULES))

  let lastJson = ''
  const fx = realEffects(resolvConf)
  const capture = { ...fx, runNft: async (json: string) => { lastJson = json; await runNft(json) } }

  // a full apply from scratch, REPS times: the first is the cold start of a fresh agent process,
  // the others what a running daemon does on a replace; each against nft -f of the same JSON
  const fulls: number[] = []
  const fullFloors: number[] = []
  let fullJson = ''
  for (let rep = 0; rep < REPS; rep++) {
    execFileSync('nft', ['flush', 'ruleset'])
    fulls.push(await timed(() => new Agent(capture).replace(parsePush(all))))
    fullJson = lastJson
    execFileSync('nft', ['flush', 'ruleset'])
    fullFloors.push(await timed(() => runNft(fullJson)))
  }
  const ruleCount = (fullJson.match(/"rule":/g) ?? []).length
  // back to what the agent believes is loaded
  execFileSync('nft', ['flush', 'ruleset'])
  const agent2 = new Agent(capture)
  await agent2.replace(parsePush(all))

  const updates: number[] = []
  const cleanups: number[] = []
  const updateJsons: string[] = []
  for (let u = 0; u < UPDATES; u++) {
    const one = vmEntries(u % VMS, RULES, u + 1)
    updates.push(await timed(() => agent2.update(parsePush(one))))
    updateJsons.push(lastJson)
    // the daemon answers first and cleans up after; here the clean-up is timed apart
    cleanups.push(await timed(() => agent2.collectGarbage()))
  }
  // the floor: plain nft -f replacing one VM's chain in place (flush it, add the same rules), on
  // chains that have stood for a while, as a naive agent would do for an update
  const updateFloors: number[] = []
  for (const [u, json] of updateJsons.entries()) {
    const target = agent2.loadedVms().get(vmIp((u + Math.floor(VMS / 2)) % VMS))?.chain as string
    const update = JSON.parse(json) as { nftables: Record<string, Record<string, Record<string, unknown>>>[] }
    const replaceChain = update.nftables.flatMap((cmd): unknown[] => {
      if (cmd['add']?.['chain']) return [{ flush: { chain: { ...cmd['add']['chain'], name: target } } }]
      if (cmd['add']?.['rule']) return [{ add: { rule: { ...cmd['add']['rule'], chain: target } } }]
      return []
    })
    const floorJson = JSON.stringify({ nftables: replaceChain })
    updateFloors.push(await timed(() => runNft(floorJson)))
  }
  const upd = median(updates)
  const updFloor = median(updateFloors)
  const ms = (v: number) => `${v.toFixed(1)} ms`.padStart(11)
  console.log(`qubes-firewall bench: ${VMS} VMs x ${RULES} rules (${ruleCount} nft rules loaded), ${REPS} full applies, ${UPDATES} one-VM updates`)
  console.log(`                                   ours        floor (nft -f)   ratio`)
  const [coldOurs = NaN, coldFloor = NaN] = [fulls[0], fullFloors[0]]
  console.log(`full apply, cold start      ${ms(coldOurs)}    ${ms(coldFloor)}      ${(coldOurs / coldFloor).toFixed(2)}x`)
  console.log(`full apply (median)         ${ms(median(fulls))}    ${ms(median(fullFloors))}      ${(median(fulls) / median(fullFloors)).toFixed(2)}x`)
  console.log(`one-VM update (median)      ${ms(upd)}    ${ms(updFloor)}      ${(upd / updFloor).toFixed(2)}x`)
  console.log(`  its clean-up, after the answer (median): ${median(cleanups).toFixed(1)} ms`)
}
