// The agent's global options, as the command line gives them to every subcommand.
export interface AgentOptions {
  rwDir: string
  resolvConf: string
  stateDir: string
  socket: string
  force?: boolean
  /** serve: where the rules come from besides the socket */
  source?: 'socket' | 'qubesdb'
  /** serve: when names are asked again (seconds; see names/name-state.ts) */
  refreshMinTtl?: number
  refreshMaxTtl?: number
  grace?: number
}
