#!/usr/bin/env node
import { main } from '../cli/qvm-prefs.js'

await main(process.argv)
