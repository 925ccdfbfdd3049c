"""Complete, tested example applications (run by ``tests/test_examples.py``).

- ``aiohttp_app``: an aiohttp.web service that rents numbers and receives their
  events.
- ``fastapi_app``: the same service on FastAPI.
"""
