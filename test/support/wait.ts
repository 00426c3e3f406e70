/** The tests' condition waits: the same helper the bench and the test servers use. */
export { waitFor } from '../../scripts/wait.ts';
