// yargs, from its CommonJS build. yargs 17's ESM build wraps help text in the middle of words (yargs/yargs#2112, fixed
// only in yargs 18, which needs Node >= 20.19); its CommonJS build wraps at word boundaries. Same package, same API and
// types. Its helpers come from the same build: importing 'yargs/helpers' would load the ESM build beside it (~13 ms).
// A CommonJS module (.cts), so that its require() resolves yargs's CommonJS build both under Node (tsc's dist/) and in
// the bundle (scripts/bundle.mjs), which then holds yargs too.

/* eslint-disable @typescript-eslint/no-require-imports -- require() is what picks the CommonJS build */
import yargsFactory = require('yargs');
import helpers = require('yargs/helpers');
/* eslint-enable @typescript-eslint/no-require-imports */

export const yargs = yargsFactory;
export const hideBin = helpers.hideBin;
