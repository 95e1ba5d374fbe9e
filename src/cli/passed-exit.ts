// A command whose exit code is another program's (etcdctl through the tool): its output is already printed, and the
// process must end with that program's code, whatever it is (etcdctl uses 1, 2, 4, 5 and 128 and up).

import { ReportedFailure } from './reported.js';

export class PassedExit extends ReportedFailure {
  constructor(code: number, what: string) {
    super(`${what} exited ${code}`);
    // ReportedFailure's code is 1; main.ts ends the process with whatever this property holds.
    (this as { exitCode: number }).exitCode = code;
  }
}
