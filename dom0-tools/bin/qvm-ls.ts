#!/usr/bin/env node
import { main } from '../cli/qvm-ls.js'

await main(process.argv)
