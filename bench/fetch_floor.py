"""The fetch-only floor: every URL fetched with httpx's async client, 16 at a time over one pool, bodies read and
dropped, nothing parsed or stored. No reader of these feeds can be faster than fetching them."""

from __future__ import annotations

import asyncio
import sys

import httpx


async def fetch_all(urls: list[str], concurrency: int = 16) -> int:
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one(url: str) -> int:
            async with gate:
                resp = await client.get(url)
                return len(resp.content)

        sizes = await asyncio.gather(*(one(u) for u in urls))
    return sum(sizes)


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        urls = [line.strip() for line in f if line.strip()]
    total = asyncio.run(fetch_all(urls))
    print(f"fetched {len(urls)} urls, {total} bytes")


if __name__ == "__main__":
    main()
