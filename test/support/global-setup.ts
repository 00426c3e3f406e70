// The service serves the dashboards from dist/web, built from source as `npm start` builds them.
// @ts-expect-error: a plain ES module without types
import { buildDashboards } from '../../dashboards/build.mjs';

export default async function setup() {
  await buildDashboards();
}
