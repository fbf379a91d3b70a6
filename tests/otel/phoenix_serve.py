"""Starts Arize Phoenix (`phoenix serve`) for warden's export tests, with every
listener on loopback: Phoenix binds its OTLP/gRPC port to all interfaces ([::]), and
the tests only use OTLP/HTTP, so the gRPC listener is moved to 127.0.0.1 before the
server starts. Configuration (port, auth, working dir) comes from the PHOENIX_*
variables the test script sets."""

import sys

from grpc.aio import _server

_add_insecure = _server.Server.add_insecure_port
_add_secure = _server.Server.add_secure_port


def _loopback(address: str) -> str:
    port = address.rsplit(":", 1)[-1]
    return f"127.0.0.1:{port}"


def _insecure(self, address, *args, **kwargs):
    return _add_insecure(self, _loopback(address), *args, **kwargs)


def _secure(self, address, *args, **kwargs):
    return _add_secure(self, _loopback(address), *args, **kwargs)


_server.Server.add_insecure_port = _insecure
_server.Server.add_secure_port = _secure

from phoenix.server.main import main  # noqa: E402

sys.argv = ["phoenix", "serve"]
main()
