/**
 * A client command's failure, with the exit code it ends with (1: the command failed; 2: it was
 * used wrongly). The message names the cause and never holds a token.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
