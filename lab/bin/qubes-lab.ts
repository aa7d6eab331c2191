#!/usr/bin/env node
import { main } from '../qubes-lab.js'

await main(process.argv)
