// The seam between phases and transport: phases talk to RemoteHost, which the ssh2 client and the test fakes both implement.

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Kill the channel and fail after this long. */
  timeoutMs?: number;
  /**
   * Run even after the run was interrupted (Ctrl-C): only for releasing what the run holds (the cluster lock), never
   * for a change to a host.
   */
  cleanup?: boolean;
  /** Sees stdout as it arrives (the result still carries all of it); hosts that cannot stream never call it. */
  onStdout?: (chunk: Buffer) => void;
}

export interface RemoteHost {
  /** Inventory node name. */
  readonly name: string;
  /** Run one shell command line (already rendered by plan/shell.render). Resolves with any exit code; rejects only when the command could not run or timed out. */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  close(): void;
}
