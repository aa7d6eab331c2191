// How the agent names one failure in its log and on stderr: `VM[: rule N]: what went wrong`.
import type { Failure } from './agent.js'

export const failureLine = (f: Failure): string => `${f.vm}${f.rule !== null ? `: rule ${f.rule}` : ''}: ${f.error}`
