#!/usr/bin/env node
// The `shoal` executable, kept in git with its executable bit (tsc does not set one on dist/):
// it runs the compiled CLI that `npm run build` writes to dist/.
import '../dist/main.js';
