"""Forward TCP connections on HOST:PORT to a Unix socket (PostgreSQL's, by default).

Unix sockets are not network-namespaced: run inside a network namespace, this lets
the namespace's own address reach the machine's PostgreSQL. scripts/two_hosts.sh
uses it to give "host A" its database. Usage::

    python scripts/unix_forward.py 10.211.0.1:5432 /var/run/postgresql/.s.PGSQL.5432
"""

from __future__ import annotations

import asyncio
import contextlib
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _serve(host: str, port: int, socket_path: str) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(socket_path)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(handle, host, port)
    print(f"forwarding {host}:{port} -> {socket_path}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> None:
    """``unix_forward.py HOST:PORT [SOCKET]``."""
    if len(argv) not in (1, 2):
        sys.exit("usage: unix_forward.py HOST:PORT [UNIX_SOCKET]")
    host, _, port = argv[0].rpartition(":")
    socket_path = argv[1] if len(argv) == 2 else "/var/run/postgresql/.s.PGSQL.5432"
    asyncio.run(_serve(host, int(port), socket_path))


if __name__ == "__main__":
    main(sys.argv[1:])
