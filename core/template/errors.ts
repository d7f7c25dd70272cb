import { BadRequestError } from '../errors.js';

/**
 * A template that does not parse or fails while it runs, at `line`:`col` of template `name`
 * (1-based). Its message reads as Go's does, with the column: `template: NAME:LINE:COL: what`.
 */
export class TemplateError extends BadRequestError {
  constructor(
    readonly templateName: string,
    readonly line: number,
    readonly col: number,
    readonly what: string,
  ) {
    super(`template: ${templateName}:${line}:${col}: ${what}`);
  }
}
