/**
 * Built as `npm start` builds them: the dashboards the service serves from dist/web, and the
 * service and simulator bundles that tests run as processes of their own.
 */
export default async function setup() {
  // @ts-expect-error: a plain ES module without types, which builds when imported
  await import('../../scripts/build.mjs');
}
