/**
 * The base of the errors the toolkit throws about a lifecycle: which lifecycle, at which version.
 */

/** A check found the lifecycle at fault; subclasses say how (a broken rule, a shape problem, a changed table). */
export class LifecycleTestError extends Error {
  override name = 'LifecycleTestError';
  constructor(
    readonly lifecycle: string,
    readonly version: number,
    message: string,
  ) {
    super(message);
  }
}
