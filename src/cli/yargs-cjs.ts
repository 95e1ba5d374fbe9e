// yargs, from its CommonJS build. yargs 17's ESM build wraps help text in the middle of words (yargs/yargs#2112, fixed
// only in yargs 18, which needs Node >= 20.19); its CommonJS build wraps at word boundaries. Same package, same API and
// types. Its helpers come from the same build: importing 'yargs/helpers' would load the ESM build beside it (~13 ms).

import { createRequire } from 'node:module';
import type yargsFactory from 'yargs';

const require = createRequire(import.meta.url);

export const yargs = require('yargs') as typeof yargsFactory;
export const { hideBin } = require('yargs/helpers') as typeof import('yargs/helpers');
