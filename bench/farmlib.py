"""The parts of the feed-farm benchmark: Debian's nginx serving generated RSS files from a temp dir, the
configurations both readers get, and one child process measured from outside (wall, CPU, peak RSS).

Measuring a child from outside keeps both programs honest: start-up counts (an operator's cron job pays it), and the
figures come from the kernel (wait4's rusage) and a sampler of the whole process tree (a process pool's workers
count), not from the program's own opinion of itself.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import psutil

ROOT = Path(__file__).resolve().parent.parent
READER_VENV = ROOT / "bench" / ".venv-reader"
ITEMS_PER_FEED = 20

EN = (
    "government council minister talks trade energy budget market city police court report week official plan "
    "committee policy region vote election agency company investment climate water school hospital rail port "
    "strike union price inflation bank rate growth export import security border defence press statement"
).split()
RU = (
    "правительство министр совет переговоры торговля энергетика бюджет рынок город полиция суд доклад неделя "
    "план комитет политика регион выборы агентство компания инвестиции климат вода школа больница порт цена "
    "банк ставка рост экспорт импорт безопасность граница оборона заявление"
).split()
FR = (
    "gouvernement conseil ministre négociations commerce énergie budget marché ville police tribunal rapport "
    "semaine plan comité politique région vote élection agence entreprise investissement climat école hôpital"
).split()
DE = (
    "Regierung Rat Minister Gespräche Handel Energie Haushalt Markt Stadt Polizei Gericht Bericht Woche Plan "
    "Ausschuss Politik Region Wahl Behörde Unternehmen Investition Klima Wasser Schule Krankenhaus Hafen Preis"
).split()
LANGS = (("en", EN), ("en", EN), ("en", EN), ("ru", RU), ("fr", FR), ("de", DE))
TOPICAL = {
    "en": "Russia terminates the 1994 military cooperation agreement with France",
    "ru": "Правительство России прекратило действие соглашения о военном сотрудничестве с Францией",
    "fr": "La Russie dénonce l'accord de coopération militaire de 1994 avec la France",
    "de": "Russland kündigt das Abkommen über militärtechnische Zusammenarbeit mit Deutschland",
}
EXTRA_AGREEMENT = """agreements:
  - id: ru-in-military-technical
    title: Russia–India agreement on military-technical cooperation
    parties: [russia, india]
"""
WATCHLIST_FILES = ("terms.yaml", "entities.yaml", "agreements.yaml", "watches.yaml", "vocabularies.yaml")


def sentence(rng: random.Random, words: Sequence[str], n: int) -> str:
    return " ".join(rng.choice(words) for _ in range(n)).capitalize()


def rss_item(
    rng: random.Random,
    lang: str,
    words: Sequence[str],
    feed: int,
    i: int,
    when: datetime,
    topical_every: int = 97,
    title: str | None = None,
) -> str:
    """One item of a realistic size (about 0.8-1.5 KB): a title, a description with markup, link, guid, date.
    By default about 1 % of items concern a tracked agreement (topical_every=0: none)."""
    topical = topical_every and (feed * ITEMS_PER_FEED + i) % topical_every == 0
    title = title or (TOPICAL[lang] if topical else sentence(rng, words, rng.randint(7, 13)))
    paras = [sentence(rng, words, rng.randint(25, 45)) + "." for _ in range(rng.randint(2, 3))]
    link = f"https://news{feed % 50}.example.org/{lang}/{when:%Y/%m/%d}/story-{feed}-{i}"
    desc = "".join(f"<p>{p}</p>" for p in paras) + f'<p><a href="{link}">{sentence(rng, words, 3)}</a></p>'
    return (
        f"<item><title>{escape(title)}</title><link>{link}</link>"
        f'<guid isPermaLink="true">{link}</guid><pubDate>{format_datetime(when)}</pubDate>'
        f"<category>{rng.choice(words)}</category><description>{escape(desc)}</description></item>"
    )


def rss_feed(feed: int, items: Sequence[str], lang: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Farm feed {feed}</title><link>https://news{feed % 50}.example.org/</link>"
        f"<description>Section {feed}</description><language>{lang}</language>" + "".join(items) + "</channel></rss>"
    ).encode()


def write_feeds(
    www: Path, n: int, seed: int = 12, topical_every: int = 97, items_per_feed: int = ITEMS_PER_FEED
) -> int:
    """n feeds of `items_per_feed` items as static files; returns the bytes written."""
    rng = random.Random(seed)
    base = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    total = 0
    for f in range(n):
        lang, words = LANGS[f % len(LANGS)]
        items = [
            rss_item(rng, lang, words, f, i, base - timedelta(minutes=17 * i + f), topical_every)
            for i in range(items_per_feed)
        ]
        body = rss_feed(f, items, lang)
        (www / f"f{f}.xml").write_bytes(body)
        total += len(body)
    return total


def farm_tree(tmp: Path, feeds: int) -> tuple[Path, float]:
    """A farm in a temp dir nginx may read: `www` with the feeds (write_feeds) and `nginx` for its own files; the
    feeds' folder and their size in MB."""
    tmp.chmod(0o755)
    www = tmp / "www"
    www.mkdir()
    (tmp / "nginx").mkdir()
    return www, write_feeds(www, feeds) / 1e6


def stop_daemons(procs: Sequence[subprocess.Popen[bytes]], timeout: float = 60.0) -> None:
    """SIGTERM to every daemon at once, then wait for each; one that does not stop in time is killed."""
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_nginx() -> str:
    """Debian's nginx, installed when missing (the bench machine is ours; root may apt-get)."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found:
        return found
    print("installing Debian's nginx (apt-get install -y nginx) ...", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "nginx"]
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:  # a fresh machine's lists
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(install, check=True, env=env, stdout=subprocess.DEVNULL)
    return shutil.which("nginx") or "/usr/sbin/nginx"


class Nginx:
    """nginx in the foreground on 127.0.0.1:<free port>, every path (pid, logs, temp) inside `home`."""

    def __init__(self, home: Path, www: Path) -> None:
        self.home, self.www = home, www
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Nginx:
        binary = ensure_nginx()
        for d in (self.home, self.www):
            d.chmod(0o755)  # nginx's workers run as nobody when we are root
        conf = self.home / "nginx.conf"
        temps = " ".join(
            f"{k}_temp_path {self.home}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        conf.write_text(
            f"worker_processes 1;\npid {self.home}/nginx.pid;\nerror_log {self.home}/error.log warn;\n"
            "daemon off;\nevents { worker_connections 4096; }\n"
            f"http {{\n access_log off;\n {temps}\n types {{ application/rss+xml xml; }}\n"
            " default_type application/octet-stream;\n keepalive_requests 1000000;\n"
            f" server {{ listen 127.0.0.1:{self.port}; root {self.www}; etag on; }}\n}}\n"
        )
        self.proc = subprocess.Popen(
            [binary, "-p", str(self.home), "-e", str(self.home / "error.log"), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    log = (self.home / "error.log").read_text(errors="replace")
                    raise RuntimeError(f"nginx exited: {log}") from None
                time.sleep(0.05)
        raise RuntimeError("nginx did not start listening within 10 s")

    def url(self, f: int) -> str:
        return f"http://127.0.0.1:{self.port}/f{f}.xml"

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: workers finish, master removes its pid file
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def write_treatywatch_config(
    cfg: Path, state: Path, urls: Sequence[str], every: str = "10m", extra_settings: str = "", subscribers: str = ""
) -> None:
    """The issue's set-up: the example watchlist (14 agreements + 1 = 15, 3 watches), no politeness delay,
    16 requests at a time to the one host, every farm feed a source."""
    from treatywatch.config.models import Settings

    cfg.mkdir(parents=True, exist_ok=True)
    for name in WATCHLIST_FILES:
        text = (ROOT / "config" / name).read_text(encoding="utf-8")
        # a watch limited to the example's own sources watches every farm source instead
        text = re.sub(r"(?m)^    sources: \[.*\]\n", "", text)
        (cfg / name).write_text(text, encoding="utf-8")
    (cfg / "agreements-extra.yaml").write_text(EXTRA_AGREEMENT, encoding="utf-8")
    baseline = "  baseline: false\n" if "baseline" in Settings.model_fields else ""
    (cfg / "settings.yaml").write_text(
        f"settings:\n  state_dir: {state}\n  per_host_delay: 0s\n  per_host_concurrency: 16\n  web_port: 0\n"
        f"  log_level: WARNING\n{baseline}{extra_settings}",
        encoding="utf-8",
    )
    lines = ["sources:"]
    for i, url in enumerate(urls):
        lines.append(f"  - {{id: farm-{i}, type: feed, url: '{url}', every: {every}}}")
    (cfg / "sources.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if subscribers:
        (cfg / "subscribers.yaml").write_text(subscribers, encoding="utf-8")


@dataclass(frozen=True)
class Run:
    """One measured child process."""

    wall: float
    cpu: float
    rss_mb: float
    code: int
    pss_mb: float = 0.0  # the tree's proportional set size at its RSS peak: forked workers' shared pages once

    def line(self) -> str:
        return (
            f"wall {self.wall:6.2f}s  cpu {self.cpu:6.2f}s  peak RSS {self.rss_mb:5.0f} MB  PSS {self.pss_mb:5.0f} MB"
            f"  exit {self.code}"
        )


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants, from the kernel's children lists (psutil's children() reads every process's
    stat in /proc: 2.4 ms a sample on this machine, where these reads take a few microseconds)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as kids:
                    todo.extend(int(k) for k in kids.read().split())
    return out


def _tree_memory(proc: psutil.Process, pss: bool = True) -> tuple[int, int]:
    """RSS and PSS summed over a process tree. RSS counts a page shared by forked processes in each of them; PSS
    divides it among them. PSS walks each process's page tables (about 4 ms for a 150 MB process): with
    pss=False only RSS is read (statm, microseconds) and PSS is 0."""
    rss = total_pss = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for pid in _tree(proc.pid):
        with contextlib.suppress(OSError, psutil.Error):
            if not pss:
                with open(f"/proc/{pid}/statm") as statm:
                    rss += int(statm.read().split()[1]) * page
                continue
            full = psutil.Process(pid).memory_full_info()
            rss += full.rss
            total_pss += getattr(full, "pss", full.rss)
    return rss, total_pss


# RSS is sampled every RSS_EVERY seconds and PSS every PSS_EVERY: reading PSS every 50 ms over a cold pass's three
# processes (and finding them with psutil) cost the sampler 0.8 s of CPU, 11 ms a sample: a fifth of a core taken
# from the measured run when it keeps both cores busy (ours), and from an idle core when it keeps one busy (reader's).
# Now a pass's sampling costs a few hundredths of a second.
RSS_EVERY, PSS_EVERY = 0.05, 0.5


def measure(cmd: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, log: Path) -> Run:
    """Run `cmd`, return wall time, user+sys CPU (its own and its children's, from wait4), peak RSS (the larger
    of wait4's single-process peak and the sampled sum over its process tree) and the tree's peak PSS."""
    with log.open("wb") as err:
        start = time.perf_counter()
        child = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=err, stderr=subprocess.STDOUT)
        peak = peak_pss = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak, peak_pss
            try:
                ps = psutil.Process(child.pid)
                next_pss = 0.0
                while not done.is_set():
                    now = time.perf_counter()
                    rss, pss = _tree_memory(ps, pss=now >= next_pss)
                    if pss:
                        next_pss = now + PSS_EVERY
                    peak, peak_pss = max(peak, rss), max(peak_pss, pss)
                    done.wait(RSS_EVERY)
            except psutil.Error:
                return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        child.returncode = os.waitstatus_to_exitcode(status)
    rss = max(usage.ru_maxrss * 1024, peak) / 1e6
    pss = peak_pss / 1e6 if peak else rss  # too short to sample: its own peak
    return Run(wall, usage.ru_utime + usage.ru_stime, rss, child.returncode, pss)


def ensure_reader_venv(python: str = sys.executable) -> Path:
    """bench/.venv-reader with reader 3.x from PyPI (and py-spy, to profile either side); built on first use.
    sgmllib3k is named because the feedparser reader vendors imports sgmllib, which some indexes omit."""
    bin_python = READER_VENV / "bin" / "python"
    probe = [str(bin_python), "-c", "import reader, sgmllib, sys; sys.exit(reader.__version__.split('.')[0] != '3')"]
    if bin_python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return bin_python
    print("creating bench/.venv-reader with reader 3.x ...", file=sys.stderr)
    subprocess.run([python, "-m", "venv", str(READER_VENV)], check=True)
    subprocess.run(
        [str(bin_python), "-m", "pip", "install", "-q", "reader>=3,<4", "sgmllib3k", "py-spy"],
        check=True,
    )
    return bin_python


def write_result(text: str, kind: str, started: datetime, out: Path | None = None) -> Path:
    """Print a bench's Markdown and keep it in bench/results/<kind>-<date>.md (or `out`)."""
    print("\n" + text)
    out = out or ROOT / "bench" / "results" / f"{kind}-{started:%Y-%m-%d-%H%M}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"written to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return out
