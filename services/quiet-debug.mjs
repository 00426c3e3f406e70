// Loaded before any package (dist/main.mjs imports it before the service's bundle): the packages
// that `require('debug')` (mqtt-packet, on every packet parsed and every PUBACK written; mqtt) get a
// no-op for every namespace DEBUG does not turn on. A disabled `debug` call still gathers its
// arguments and reads a getter: at 10k readings/s the MQTT thread spent 34–35 µs per reading with
// them, 29.5–30 without (`npm run bench:profile`, PROFILE=off). Namespaces DEBUG names log as they
// always did; those given to `debug.enable()` later, after the packages loaded, do not. A package
// that imports `debug` as an ES module (file-type's inflate, for photo uploads) keeps the original.
import { createRequire } from 'node:module';

try {
  const require = createRequire(import.meta.url);
  const createDebug = require('debug');
  const off = (namespace) => {
    const d = Object.assign(() => {}, { namespace, enabled: false, log: () => {}, destroy: () => true });
    d.extend = (sub, delimiter = ':') => quiet(`${namespace}${delimiter}${sub}`);
    return d;
  };
  const quiet = Object.assign((namespace) => (createDebug.enabled(namespace) ? createDebug(namespace) : off(namespace)), createDebug);
  quiet.debug = quiet.default = quiet;
  // the module the loader made stays in its cache (ES modules importing `debug` check it): only
  // what it exports changes
  require.cache[require.resolve('debug')].exports = quiet;
} catch {
  // no `debug` where the packages would find it: nothing to quiet
}
