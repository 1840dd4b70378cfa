/**
 * The control socket: a Unix stream socket, mode 0600 in a 0700 directory
 * (root only), serving protocol.ts. Each connection's requests are answered
 * in order; a client that is not root (SO_PEERCRED) is refused, a line over
 * MAX_MESSAGE_BYTES ends its connection, and any bad request gets a typed
 * error while the modules keep running.
 */
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { getsockoptBytes, SOL_SOCKET } from '../syscall/socket.js';
import { asProtocolError, type Engine } from './engine.js';
import {
  arg, checkModuleName, EngineProtocolError, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, parseRequest, type Request, requestIdOf, type Response,
} from './protocol.js';
import { showModule } from './show.js';

const SO_PEERCRED = 17;

/** The uid of the process at the other end of a Unix socket, or undefined when it cannot be told. */
function peerUid(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  const cred = new Uint8Array(12); // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
  try {
    getsockoptBytes(fd, SOL_SOCKET, SO_PEERCRED, cred, 'SO_PEERCRED');
  } catch {
    return undefined;
  }
  return new DataView(cred.buffer).getUint32(4, true);
}

/** 64-bit values travel as JSON numbers while exact, else as decimal strings. */
const jsonValue = (_k: string, v: unknown): unknown => {
  if (typeof v !== 'bigint') return v;
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
};

export interface ServerInfo {
  version: string;
  startedAt: number;
  stateDir: string;
  pinRoot: string;
  metrics?: string;
}

export async function handle(engine: Engine, req: Request, info: ServerInfo): Promise<unknown> {
  const a = req.args;
  switch (req.verb) {
    case 'ping':
      return {
        engine: info.version, protocol: PROTOCOL_VERSION, pid: process.pid, uptimeSeconds: Math.round((Date.now() - info.startedAt) / 1000),
        modules: engine.modules.size, stateDir: info.stateDir, pinRoot: info.pinRoot, ...(info.metrics ? { metrics: info.metrics } : {}),
      };
    case 'load': {
      const set = arg.settings(a);
      const name = arg.string(a, 'name', false);
      const file = arg.string(a, 'file', false);
      const object = arg.string(a, 'object', false);
      const iface = arg.string(a, 'iface', false);
      const cgroup = arg.string(a, 'cgroup', false);
      const before = arg.string(a, 'before', false);
      const after = arg.string(a, 'after', false);
      if (name !== undefined) checkModuleName(name);
      return engine.load({
        ...(name !== undefined ? { name } : {}), ...(file !== undefined ? { file } : {}), ...(object !== undefined ? { object } : {}),
        ...(iface !== undefined ? { iface } : {}), ...(cgroup !== undefined ? { cgroup } : {}), ...(set ? { set } : {}),
        ...(before !== undefined ? { before: checkModuleName(before, 'before') } : {}), ...(after !== undefined ? { after: checkModuleName(after, 'after') } : {}),
      });
    }
    case 'replace': {
      const set = arg.settings(a);
      const file = arg.string(a, 'file', false);
      const object = arg.string(a, 'object', false);
      return engine.replace({ name: arg.string(a, 'name', true)!, ...(file !== undefined ? { file } : {}), ...(object !== undefined ? { object } : {}), ...(set ? { set } : {}) });
    }
    case 'unload':
      return engine.unload(arg.string(a, 'name', true)!);
    case 'move': {
      const before = arg.string(a, 'before', false);
      const after = arg.string(a, 'after', false);
      return engine.move({ name: arg.string(a, 'name', true)!, ...(before !== undefined ? { before } : {}), ...(after !== undefined ? { after } : {}) });
    }
    case 'list':
      return engine.serial(() => engine.list());
    case 'show': {
      const name = arg.string(a, 'name', true)!;
      const limit = a?.limit === undefined ? 256 : Number(a.limit);
      if (!Number.isInteger(limit) || limit < 0 || limit > 1_000_000) throw new EngineProtocolError('E_BAD_REQUEST', '"limit" must be an integer from 0 to 1000000');
      return engine.serial(() => showModule(engine.info(name), engine.module(name), limit));
    }
  }
}

export function serve(engine: Engine, socketPath: string, info: ServerInfo, log: (line: string) => void): Promise<Server> {
  // Half-open: a client may send its requests and shut down its side; the answers still go out, then the engine closes.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const uid = peerUid(socket);
    const send = (r: Response): void => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(r, jsonValue)}\n`);
    };
    const refuse = (id: Response['id'], e: EngineProtocolError): void => send({ v: PROTOCOL_VERSION, id, ok: false, error: e.toJSON() });
    if (uid !== undefined && uid !== 0) {
      refuse(null, new EngineProtocolError('E_PERM', `the engine takes requests from root only (this client is uid ${uid})`));
      socket.end();
      return;
    }
    let buffered: Buffer[] = [];
    let size = 0;
    let oversized = false;
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      if (oversized) return;
      let start = 0;
      for (let nl = chunk.indexOf(10, start); nl >= 0; nl = chunk.indexOf(10, start)) {
        const piece = chunk.subarray(start, nl);
        start = nl + 1;
        if (size + piece.length > MAX_MESSAGE_BYTES) return tooLarge();
        const line = Buffer.concat([...buffered, piece]).toString('utf8');
        buffered = [];
        size = 0;
        if (line.trim() === '') continue;
        queue = queue.then(() => answer(line));
      }
      const rest = chunk.subarray(start);
      size += rest.length;
      if (size > MAX_MESSAGE_BYTES) return tooLarge();
      if (rest.length) buffered.push(Buffer.from(rest));
    });
    const tooLarge = (): void => {
      if (oversized) return;
      oversized = true;
      refuse(null, new EngineProtocolError('E_TOO_LARGE', `a request is at most ${MAX_MESSAGE_BYTES} bytes (one line of JSON); closing this connection`));
      buffered = [];
      // The rest of the message is not read: the answer goes out, then the connection is cut.
      socket.end(() => socket.destroy());
      socket.pause();
    };
    const answer = async (line: string): Promise<void> => {
      let req: Request;
      try {
        req = parseRequest(line);
      } catch (e) {
        return refuse(requestIdOf(line), asProtocolError(e));
      }
      try {
        const result = await handle(engine, req, info);
        send({ v: PROTOCOL_VERSION, id: req.id, ok: true, result });
        if (req.verb !== 'list' && req.verb !== 'show' && req.verb !== 'ping') log(`${req.verb} ${JSON.stringify(req.args?.name ?? req.args?.file ?? '')}: ok`);
      } catch (e) {
        const err = asProtocolError(e);
        if (err.code === 'E_INTERNAL') log(`internal error on ${req.verb}: ${(e as Error).stack ?? err.message}`);
        refuse(req.id, err);
      }
    };
    socket.on('end', () => void queue.then(() => socket.end()));
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve, reject) => {
    rmSync(socketPath, { force: true }); // a socket left by an engine that died
    server.once('error', reject);
    server.listen(socketPath, () => {
      chmodSync(socketPath, 0o600);
      server.off('error', reject);
      resolve(server);
    });
  });
}
