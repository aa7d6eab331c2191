// The agent's global options, as the command line gives them to every subcommand.
export interface AgentOptions {
  rwDir: string
  resolvConf: string
  stateDir: string
  socket: string
  force?: boolean
}
