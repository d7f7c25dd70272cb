/** A query answer: the index a blocking query compares against, and the data. */
export interface Indexed<T> {
  readonly index: number;
  readonly value: T;
}
