"""Test support: a stateful fake Sinch Numbers API server and a pytest fixture.

``FakeNumbersServer`` serves the Numbers API and the OAuth2 token endpoint on loopback,
with an inventory, rent/release state, scheduled provisioning, paging and the documented
error envelopes, and it POSTs signed callbacks to each number's ``callbackUrl`` (every
attempt recorded as a ``CallbackDelivery``). ``Fault`` describes what can go wrong on a
request (status codes, latency, connection resets, truncated bodies, token expiry) for
``FakeNumbersServer.inject``. ``MockTransport`` answers a client's requests from a function
instead, without sockets (``NumbersClient(..., transport=MockTransport(handler))``).

With pytest, add ``pytest_plugins = ["numbers_async.testing.pytest_plugin"]`` and use the
[`fake_numbers_server`][numbers_async.testing.pytest_plugin.fake_numbers_server] fixture.

Examples:
    ```python
    from numbers_async.testing import Fault, FakeNumbersServer

    async with FakeNumbersServer() as fake:
        fake.inject(Fault.status(503, body="html"), route="rent_any")
        async with fake.client() as client:
            ...
    ```
"""

from ._callbacks import CallbackDelivery
from ._fake import FakeNumbersServer, ProvisioningHook, RecordedRequest
from ._faults import Fault, FaultHandle
from ._transport import MockRequest, MockTransport
from ._wire import ROUTES

__all__ = [
    "ROUTES",
    "CallbackDelivery",
    "FakeNumbersServer",
    "Fault",
    "FaultHandle",
    "MockRequest",
    "MockTransport",
    "ProvisioningHook",
    "RecordedRequest",
]
