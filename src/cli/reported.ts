// A command that has already printed its whole result, and only needs the process to end with a failing exit code
// (e.g. `status` on a cluster that is not healthy): main.ts prints nothing more, so --json stays one document.

import { DeployError, ExitCode } from '../errors.js';

export class ReportedFailure extends DeployError {
  readonly exitCode = ExitCode.failed;
  constructor(message: string) {
    super(message);
    this.name = 'ReportedFailure';
  }
}
