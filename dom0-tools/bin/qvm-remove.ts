#!/usr/bin/env node
import { main } from '../cli/qvm-remove.js'

await main(process.argv)
