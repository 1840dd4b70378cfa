/**
 * Socket filters: SO_ATTACH_BPF on a socket the caller owns. Not a bpf_link:
 * close() detaches with SO_DETACH_BPF, so close the link before the socket.
 */
import { setsockoptInt, SocketOption, SOL_SOCKET } from '../syscall/socket.js';
import { FdLink, type ProgramLike } from './link.js';

class SocketFilterLink extends FdLink {
  constructor(readonly socketFd: number) {
    super('socket-filter', -1, [], `socket fd ${socketFd}`);
  }

  protected override onClose(): void {
    try {
      setsockoptInt(this.socketFd, SOL_SOCKET, SocketOption.DETACH_BPF, 0, 'SO_DETACH_BPF');
    } catch {
      // The socket is gone (or had no filter left): nothing stays attached.
    }
  }
}

/**
 * Attaches a BPF_PROG_TYPE_SOCKET_FILTER program to socket `socketFd`.
 * @example
 * using filter = attachSocketFilter(prog, socketFd);   // SO_ATTACH_BPF; close() detaches it
 */
export function attachSocketFilter(program: ProgramLike, socketFd: number): FdLink {
  setsockoptInt(socketFd, SOL_SOCKET, SocketOption.ATTACH_BPF, program.fd, `SO_ATTACH_BPF on socket fd ${socketFd}`);
  return new SocketFilterLink(socketFd);
}
