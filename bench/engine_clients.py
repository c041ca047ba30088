"""What one engine round trip costs through each client, for a small query: aiohttp (the API's
hot path), a minimal keep-alive client over asyncio + httptools (written here only to measure
the headroom), and http.client (the search benchmark's "engine" column). Meilisearch's own work
is in every figure alike.

    .venv/bin/python bench/engine_clients.py

Writes bench/results/engine_clients.json.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httptools
import msgspec
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search.engine import MeiliProcess  # noqa: E402
from search.index import INDEX, IndexWriter, ensure_keys, ensure_settings  # noqa: E402
from search.searcher import MeiliSearcher  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "engine_clients.json"
N = 3000


class _Conn(asyncio.Protocol):
    def __init__(self):
        self.transport = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter = None
        self.body = []
        self.done = False
        self.closed = False
        self.keep = True

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as err:
            self._fail(err)

    def on_body(self, body):
        self.body.append(body)

    def on_message_complete(self):
        self.keep = self.parser.should_keep_alive()
        if self.waiter and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), b"".join(self.body)))

    def connection_lost(self, exc):
        self.closed = True
        self._fail(exc or ConnectionResetError("closed by the engine"))

    def _fail(self, exc):
        if self.waiter and not self.waiter.done():
            self.waiter.set_exception(exc)

    async def request(self, head, body):
        self.body = []
        self.parser = httptools.HttpResponseParser(self)
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(head + body)
        return await self.waiter


class Wire:
    def __init__(self, url, headers):
        p = urlsplit(url)
        self.host, self.port, self.path = p.hostname, p.port or 80, p.path
        lines = [f"POST {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.prefix = ("\r\n".join(lines) + "\r\nContent-Length: ").encode()
        self.idle = []

    async def post(self, body: bytes):
        conn = self.idle.pop() if self.idle else None
        if conn is None or conn.closed:
            _, conn = await asyncio.get_running_loop().create_connection(
                _Conn, self.host, self.port
            )
        status, content = await conn.request(
            self.prefix + str(len(body)).encode() + b"\r\n\r\n", body
        )
        if conn.keep and not conn.closed:
            self.idle.append(conn)
        else:
            conn.transport.close()
        return status, content


def _p50(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        meili = MeiliProcess(Path(tmp)).start()
        try:
            keys = ensure_keys(meili.url, meili.master_key)
            ensure_settings(meili.url, keys.write)
            client = IndexWriter(meili.url, keys.write).client
            docs = [
                {"id": f"st_{i}", "name": f"Garage {i}", "status": "active", "lat": 45 + i / 1000}
                for i in range(2000)
            ]
            client.wait_for_task(client.index(INDEX).add_documents(docs, primary_key="id").task_uid)
            body = {"q": "", "limit": 20, "filter": ['status = "active"']}
            body["attributesToRetrieve"] = ["id", "lat", "lng"]
            raw = msgspec.json.encode(body)
            headers = {
                "Authorization": f"Bearer {keys.search}",
                "Content-Type": "application/json",
                "Accept-Encoding": "identity",
            }
            results: dict[str, float] = {}

            async def run_async() -> None:
                searcher = MeiliSearcher(meili.url, keys.search)
                wire = Wire(f"{meili.url}/indexes/{INDEX}/search", headers)
                a, b = [], []
                for i in range(N + 200):
                    started = time.perf_counter()
                    await searcher._post(body)
                    if i >= 200:
                        a.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    status, _ = await wire.post(raw)
                    assert status == 200
                    if i >= 200:
                        b.append(time.perf_counter() - started)
                await searcher.close()
                results["aiohttp_p50_ms"] = _p50(a)
                results["asyncio_httptools_p50_ms"] = _p50(b)

            uvloop.run(run_async())
            url = urlsplit(meili.url)
            conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port)
            c = []
            for i in range(N + 200):
                started = time.perf_counter()
                conn.request("POST", f"/indexes/{INDEX}/search", body=raw, headers=headers)
                conn.getresponse().read()
                if i >= 200:
                    c.append(time.perf_counter() - started)
            results["http_client_p50_ms"] = _p50(c)
        finally:
            meili.stop()
    print(json.dumps(results, indent=1))
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
