// The one table layout of every command (qvm-ls, qvm-firewall, qvm-connect-tcp --list, the lab's matrix), as `column -t` lays it out.

/** Columns padded to their widest cell, two spaces apart; the last one is not padded. */
export function layoutTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)))
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '))
    .map((line) => line + '\n')
    .join('')
}
