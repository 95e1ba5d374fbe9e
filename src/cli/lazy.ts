// A command's handler, imported only when the command runs. `--help`, `--version` and every completion request parse
// the command line against the command descriptors alone (commands/*.ts: name, description, options), so they never
// load listr2, ssh2, yaml or the phases behind the handlers (docs/performance.md).

import type { ArgumentsCamelCase } from 'yargs';

export type Handler<O> = (argv: ArgumentsCamelCase<O>) => void | Promise<void>;

export function lazyHandler<O, M>(load: () => Promise<M>, pick: (module: M) => Handler<O>): Handler<O> {
  return async (argv) => pick(await load())(argv);
}
