#!/usr/bin/env node
import { main } from '../cli/qubes-prefs.js'

await main(process.argv)
