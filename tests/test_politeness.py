"""Per-host politeness that adapts: a 429/503 with a Retry-After pauses the whole host, without one only the
source backs off, slow answers (and timeouts) earn the host a rest. Real HTTP on loopback; the clock and the
sleep are ours, so no test waits."""

from __future__ import annotations

import time

import pytest

from treatywatch.errors import FetchError
from treatywatch.localserve import FixtureServer
from treatywatch.sources.base import Request
from treatywatch.sources.fetch import Fetcher, FetchLimits, Politeness


class Clock:
    """Monotonic seconds that move only when a test (or the fetcher's sleep) moves them."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def fetcher(clock: Clock, **policy: float) -> Fetcher:
    return Fetcher(
        user_agent="t",
        per_host_concurrency=4,
        per_host_delay=0.0,
        politeness=Politeness(**policy),
        sleep=clock.sleep,
        clock=clock,
    )


def hits(http: FixtureServer, path: str) -> int:
    return sum(1 for r in http.requests if r[0].split("?")[0] == path)


def test_retry_after_pauses_the_whole_host_without_asking_again(http: FixtureServer) -> None:
    http.routes["/busy"] = lambda h: (429, {"Retry-After": "120"}, b"slow down")
    http.routes["/other"] = lambda h: (200, {}, b"fine")
    clock = Clock()
    f = fetcher(clock)
    with pytest.raises(FetchError) as first:
        f.fetch(Request(f"{http.base}/busy"), FetchLimits())
    assert first.value.retry_after == 120
    clock.now += 20
    with pytest.raises(FetchError) as second:  # another path on the same host: refused here, not sent
        f.fetch(Request(f"{http.base}/other"), FetchLimits())
    assert hits(http, "/other") == 0
    assert second.value.retry_after == pytest.approx(100)
    assert "pause" in str(second.value)
    clock.now += 101
    assert f.fetch(Request(f"{http.base}/other"), FetchLimits()).content == b"fine"
    f.close()


def test_a_short_retry_after_is_waited_out(http: FixtureServer) -> None:
    state = {"n": 0}

    def once_busy(h: object) -> tuple[int, dict[str, str], bytes]:
        state["n"] += 1
        return (503, {"Retry-After": "5"}, b"") if state["n"] == 1 else (200, {}, b"ok")

    http.routes["/x"] = once_busy
    clock = Clock()
    f = fetcher(clock)
    with pytest.raises(FetchError):
        f.fetch(Request(f"{http.base}/x"), FetchLimits())
    assert f.fetch(Request(f"{http.base}/x"), FetchLimits()).content == b"ok"
    assert clock.slept and clock.slept[-1] == pytest.approx(5)
    f.close()


def test_a_refusal_without_retry_after_backs_off_the_source_not_the_host(http: FixtureServer) -> None:
    http.routes["/down"] = lambda h: (503, {}, b"")
    http.routes["/x"] = lambda h: (200, {}, b"ok")
    clock = Clock()
    f = fetcher(clock)
    with pytest.raises(FetchError) as refused:
        f.fetch(Request(f"{http.base}/down"), FetchLimits())
    assert refused.value.retry_after is None  # the pipeline's own backoff decides for that source
    assert f.fetch(Request(f"{http.base}/x"), FetchLimits()).content == b"ok"
    assert clock.slept == []
    f.close()


def test_a_timeout_counts_as_a_slow_answer(http: FixtureServer) -> None:
    clock = Clock()

    def stalls(h: object) -> tuple[int, dict[str, str], bytes]:
        clock.now += 4.0  # by our clock the answer took 4 s; the body then never comes in time for real
        time.sleep(0.3)
        return 200, {"Content-Length": "10"}, b"x"

    http.routes["/stall"] = stalls
    http.routes["/x"] = lambda h: (200, {}, b"ok")
    f = fetcher(clock, slow=1.0)
    with pytest.raises(FetchError):
        f.fetch(Request(f"{http.base}/stall"), FetchLimits(timeout=0.1))
    f.fetch(Request(f"{http.base}/x"), FetchLimits())
    assert clock.slept and clock.slept[0] >= 3.9
    f.close()


def test_slow_answers_earn_the_host_a_rest_and_fast_ones_do_not(http: FixtureServer) -> None:
    clock = Clock()

    def slow(h: object) -> tuple[int, dict[str, str], bytes]:
        clock.now += 5.0  # the server takes 5 s by our clock
        return 200, {}, b"late"

    http.routes["/slow"] = slow
    http.routes["/fast"] = lambda h: (200, {}, b"soon")
    f = fetcher(clock, slow=1.0, rest_max=10.0)
    for _ in range(3):
        f.fetch(Request(f"{http.base}/fast"), FetchLimits())
    assert clock.slept == []
    f.fetch(Request(f"{http.base}/slow"), FetchLimits())
    f.fetch(Request(f"{http.base}/fast"), FetchLimits())
    assert clock.slept == [pytest.approx(1.5)]  # smoothed over the fast ones: 0.3 x 5 s, over `slow`
    f.close()


def test_the_configured_gap_still_holds_between_starts(http: FixtureServer) -> None:
    http.routes["/x"] = lambda h: (200, {}, b"ok")
    clock = Clock()
    f = Fetcher(user_agent="t", per_host_delay=0.5, sleep=clock.sleep, clock=clock)
    for _ in range(3):
        f.fetch(Request(f"{http.base}/x"), FetchLimits())
    assert clock.slept == [0.5, 0.5]
    f.close()


def test_hosts_do_not_share_a_pause(http: FixtureServer) -> None:
    http.routes["/busy"] = lambda h: (429, {"Retry-After": "600"}, b"")
    http.routes["/x"] = lambda h: (200, {}, b"ok")
    clock = Clock()
    f = fetcher(clock)
    with pytest.raises(FetchError):
        f.fetch(Request(f"{http.base}/busy"), FetchLimits())
    other = http.base.replace("127.0.0.1", "localhost")  # the same server under another host name
    assert f.fetch(Request(f"{other}/x"), FetchLimits()).content == b"ok"
    f.close()
