#!/usr/bin/env node
import { main } from '../cli/qvm-create.js'

await main(process.argv)
