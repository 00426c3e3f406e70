import { createServer } from 'node:net';
import { Aedes } from 'aedes';

/** Bare aedes on a port: the broker the gateway is built on, with nothing of the gateway. */
const broker = await Aedes.createBroker();
const server = createServer(broker.handle);
server.listen(Number(process.argv[2]), '127.0.0.1');
process.on('SIGTERM', () => broker.close(() => server.close(() => process.exit(0))));
