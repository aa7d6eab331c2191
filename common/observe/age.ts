// How long ago something was seen, as both sides print it (LAST of the agent's `hits` and of dom0's
// `qvm-firewall VM --hits`).

/** How long ago, in its largest whole unit: `12s ago`, `5m ago`, `2h ago`, `3d ago` (a clock ahead of ours: `0s ago`). */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds))
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ago`
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`
  return `${Math.floor(s / 86_400)}d ago`
}
