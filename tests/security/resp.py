"""A loopback server that speaks just enough of the Redis protocol to answer with garbage.

It stands for a Redis (or a proxy in front of one) whose replies are not what a client
expects: every ``EVALSHA`` / ``EVAL`` is answered with ``reply``, ``HELLO`` with an error (so the
client speaks RESP2) or, with ``hello=True``, with ``+OK``, and every other command with
``+OK``. A plain module (not conftest) so that tests can import it.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class GarbageRedis:
    """``async with GarbageRedis(b"*1\\r\\n$3\\r\\nabc\\r\\n") as server: server.url``."""

    def __init__(self, reply: bytes, *, hello: bool = False) -> None:
        self.reply = reply
        self.hello = hello  # answer HELLO with +OK (garbage for redis-py) instead of an error
        self.commands: list[list[bytes]] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> GarbageRedis:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        resp3 = False
        try:
            while command := await _read_command(reader):
                self.commands.append(command)
                name = command[0].upper()
                if name in (b"EVALSHA", b"EVAL"):
                    # RESP3 spells a null "_"; RESP2's "$-1" is an error there.
                    writer.write(self.reply.replace(b"$-1\r\n", b"_\r\n") if resp3 else self.reply)
                elif name == b"HELLO" and not self.hello:
                    # A well-formed answer, as Redis 6+ gives: redis-py 8.1 asks for RESP3
                    # and fails on an error here, where 8.2 asks for nothing.
                    writer.write(_hello_answer(command))
                    resp3 = command[1:2] == [b"3"]
                else:
                    writer.write(b"+OK\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def _read_command(reader: asyncio.StreamReader) -> list[bytes]:
    """One RESP array of bulk strings (what clients send), or ``[]`` at end of stream."""
    header = await reader.readline()
    if not header:
        return []
    if not header.startswith(b"*"):
        raise ConnectionError(f"not a RESP array: {header!r}")
    parts = []
    for _ in range(int(header[1:])):
        length = int((await reader.readline())[1:])
        parts.append((await reader.readexactly(length + 2))[:-2])
    return parts


def _hello_answer(command: list[bytes]) -> bytes:
    """``HELLO [protover]``'s answer: a map in RESP3, a flat array in RESP2."""
    version = command[1] if len(command) > 1 else b"2"
    fields = [(b"server", b"$5\r\nredis\r\n"), (b"version", b"$5\r\n7.0.0\r\n")]
    fields.append((b"proto", b":" + version + b"\r\n"))
    body = b"".join(b"$%d\r\n%s\r\n%s" % (len(key), key, value) for key, value in fields)
    head = b"%%%d\r\n" % len(fields) if version == b"3" else b"*%d\r\n" % (2 * len(fields))
    return head + body
