#!/usr/bin/env node
import { main } from '../cli/qubes-connect-tcp.js'

await main(process.argv)
