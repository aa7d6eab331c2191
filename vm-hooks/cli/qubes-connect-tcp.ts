// qubes.ConnectTCP: the service end qrexec runs in the target qube (install the bin as
// /etc/qubes-rpc/qubes.ConnectTCP). Its stdin/stdout are the caller's connection.
import { Command } from 'commander'
import { runProgram } from '../../common/cli/run.js'
import { runService, serviceArgument } from '../connect-tcp/service.js'

export const PROG = 'qubes.ConnectTCP'

export function buildProgram(): Command {
  return new Command(PROG)
    .description('qrexec service: connect stdin/stdout to localhost:PORT in this qube')
    .argument('[port]', 'the service argument (qubes.ConnectTCP+PORT); default $QREXEC_SERVICE_ARGUMENT')
    .action(async (untrustedPort: string | undefined) => {
      const port = serviceArgument(untrustedPort)
      await runService(port, { stdin: process.stdin, stdout: process.stdout })
    })
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  await runProgram(buildProgram(), argv)
  // stdin may still be open (the service closed first): both directions are done, so go
  process.exit()
}
