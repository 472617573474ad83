# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A STARTTLS-stripping man in the middle, for tests: the classic downgrade attack on SMTP.

    with StripStartTLS('127.0.0.1', upstream_port) as mitm:
        ... point the client at mitm.host / mitm.port ...
        mitm.stripped        # how many EHLO replies lost their STARTTLS line
        mitm.client_bytes    # everything the client sent (to prove no AUTH went out in clear)

Every connection is forwarded to the real server. Server replies are relayed line by line; in a
multi-line 250 reply the ``STARTTLS`` line is removed and the continuation markers are fixed so
the reply stays well-formed, exactly what an attacker on the path would do. Should the client
send STARTTLS anyway, both directions turn into a plain byte pipe from then on.

Two variants of the same attack:

    StripStartTLS(host, port, refuse_starttls=True)   # STARTTLS stays offered, but the client's
                                                      # STARTTLS gets '454 TLS not available'
    StripStartTLS(host, port, advertise_auth='PLAIN LOGIN')
                                                      # adds 'AUTH PLAIN LOGIN' to the EHLO reply
                                                      # when the server offers none in clear, as
                                                      # a password harvester would

    mitm.refused         # how many STARTTLS commands were answered with 454
"""
from __future__ import annotations

import socket
import threading

__all__ = ['StripStartTLS']


class StripStartTLS:
    def __init__(self, upstream_host: str, upstream_port: int, *, host: str = '127.0.0.1',
                 refuse_starttls: bool = False, advertise_auth: str | None = None):
        self.upstream = (upstream_host, upstream_port)
        self.host = host
        self.refuse_starttls = refuse_starttls
        self.advertise_auth = advertise_auth
        self.refused = 0
        self._listener = socket.create_server((host, 0))
        self.port = self._listener.getsockname()[1]
        self.stripped = 0
        self.connections = 0
        self.client_bytes = bytearray()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._closing = False
        self._thread = threading.Thread(target=self._accept, daemon=True, name='mitm-accept')

    def start(self) -> StripStartTLS:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing = True
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def __enter__(self) -> StripStartTLS:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _addr = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.connections += 1
                self._sockets += [client, server]
            state = {'raw': False, 'send_lock': threading.Lock()}
            threading.Thread(target=self._client_to_server, args=(client, server, state), daemon=True).start()
            threading.Thread(target=self._server_to_client, args=(server, client, state), daemon=True).start()

    def _client_to_server(self, client: socket.socket, server: socket.socket, state: dict) -> None:
        line = bytearray()
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                with self._lock:
                    self.client_bytes += data
                if state['raw']:
                    server.sendall(data)
                    continue
                # Line by line until STARTTLS, so that a STARTTLS can be answered here instead.
                line += data
                *commands, rest = bytes(line).split(b'\r\n')
                line = bytearray(rest)
                for command in commands:
                    if command.strip().upper() == b'STARTTLS':
                        if self.refuse_starttls:
                            with self._lock:
                                self.refused += 1
                            with state['send_lock']:
                                client.sendall(b'454 4.7.0 TLS not available due to temporary reason\r\n')
                            continue
                        state['raw'] = True
                    server.sendall(command + b'\r\n')
                if state['raw'] and line:
                    server.sendall(bytes(line))
                    line = bytearray()
        except OSError:
            pass
        finally:
            _half_close(server)

    def _server_to_client(self, server: socket.socket, client: socket.socket, state: dict) -> None:
        buffer = b''
        reply: list[bytes] = []
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    break
                if state['raw']:
                    client.sendall(buffer + data)
                    buffer = b''
                    continue
                buffer += data
                while b'\r\n' in buffer:
                    line, buffer = buffer.split(b'\r\n', 1)
                    reply.append(line)
                    if len(line) >= 4 and line[3:4] == b'-':
                        continue  # more lines of this reply follow
                    with state['send_lock']:
                        client.sendall(self._rewrite(reply))
                    reply = []
        except OSError:
            pass
        finally:
            _half_close(client)

    def _rewrite(self, reply: list[bytes]) -> bytes:
        if len(reply) > 1 and reply[0][:3] == b'250':
            kept = list(reply) if self.refuse_starttls else \
                [reply[0]] + [line for line in reply[1:] if line[4:].strip().upper() != b'STARTTLS']
            if len(kept) != len(reply):
                with self._lock:
                    self.stripped += 1
            if self.advertise_auth and not any(line[4:].upper().startswith(b'AUTH') for line in kept[1:]):
                kept.append(b'250 AUTH ' + self.advertise_auth.encode('ascii'))
            if kept != reply:
                kept = [line[:3] + b'-' + line[4:] for line in kept[:-1]] + [kept[-1][:3] + b' ' + kept[-1][4:]]
                reply = kept
        return b''.join(line + b'\r\n' for line in reply)


def _half_close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
