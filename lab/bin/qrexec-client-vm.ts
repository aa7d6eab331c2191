#!/usr/bin/env node
import { main } from '../qrexec-client-vm.js'

await main(process.argv)
