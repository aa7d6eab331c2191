#!/usr/bin/env node
import { main } from '../cli/qvm-connect-tcp.js'

await main(process.argv)
