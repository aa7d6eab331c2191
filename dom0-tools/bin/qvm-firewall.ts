#!/usr/bin/env node
import { main } from '../cli/qvm-firewall.js'

await main(process.argv)
