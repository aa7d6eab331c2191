#!/usr/bin/env node
import { main } from '../cli/qvm-features.js'

await main(process.argv)
