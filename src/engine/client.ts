/**
 * A client of the control socket (what the `tsbpf module ...` verbs use):
 * one request, one response, with errors that say what to do when no engine
 * answers.
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { EngineProtocolError, PROTOCOL_VERSION, type ProtocolError, type Response, SOCKET_NAME, type Verb } from './protocol.js';

export const DEFAULT_STATE_DIR = '/run/tsbpf';

export const socketPathOf = (stateDir: string): string => join(stateDir, SOCKET_NAME);

/** The engine could not be reached, or answered with an error. */
export class EngineClientError extends Error {
  override readonly name = 'EngineClientError';
  constructor(message: string, readonly code: string, readonly details?: string[]) {
    super(message);
  }
}

let nextId = 1;

export function request<T>(socketPath: string, verb: Verb, args: Record<string, unknown> = {}, options: { timeoutMs?: number } = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    const id = nextId++;
    let data = '';
    const timer = options.timeoutMs ? setTimeout(() => fail(new EngineClientError(`the engine did not answer within ${options.timeoutMs} ms`, 'ETIMEDOUT')), options.timeoutMs) : undefined;
    const fail = (e: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    };
    socket.on('connect', () => socket.write(`${JSON.stringify({ v: PROTOCOL_VERSION, id, verb, args })}\n`));
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      const nl = data.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      socket.end();
      let r: Response;
      try {
        r = JSON.parse(data.slice(0, nl)) as Response;
      } catch {
        reject(new EngineClientError('the engine sent a reply that is not JSON', 'E_BAD_REPLY'));
        return;
      }
      if (r.ok) resolve(r.result as T);
      else reject(fromProtocol(r.error));
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      switch (e.code) {
        case 'ENOENT':
        case 'ECONNREFUSED':
          return fail(new EngineClientError(`no engine is running (no control socket at ${socketPath}); start one with: sudo tsbpf engine`, e.code));
        case 'EACCES':
        case 'EPERM':
          return fail(new EngineClientError(`permission denied on ${socketPath}: the control socket is root-only; run the command as root (sudo)`, e.code));
        default:
          return fail(new EngineClientError(`cannot talk to the engine at ${socketPath}: ${e.message}`, e.code ?? 'EIO'));
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (!data.includes('\n')) reject(new EngineClientError('the engine closed the connection without an answer', 'ECONNRESET'));
    });
  });
}

function fromProtocol(e: ProtocolError): EngineClientError {
  return new EngineClientError(e.message, e.code, e.details);
}

export { EngineProtocolError };
