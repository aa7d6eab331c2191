#!/usr/bin/env node
import { main } from '../cli/qubes-rc-local.js'

await main(process.argv)
