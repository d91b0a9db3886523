"""`treatywatch demo`: the whole loop on bundled fixtures, a local HTTP server and a local SMTP sink. Offline.

The demo shows alerting, so its sources say `baseline: false` (a real source's first poll is a quiet baseline), and
its clock stands on the fixtures' day: the default `ignore_older_than` (14 days) then keeps the July decree among
them quiet, as it would for an operator adding that portal today.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from .app import build_app
from .config import load_config
from .config.models import ConfigFile, Settings
from .config.yamlfile import load_yaml
from .localserve import FixtureServer, SmtpSink
from .matching import Watchlist

# the day the bundled fixtures were captured (their newest item is of that morning)
FIXTURES_DAY = datetime(2025, 12, 6, 12, 0, tzinfo=UTC)


def demo_data() -> Path:
    return Path(str(resources.files("treatywatch") / "demo_data"))


def run_demo(config_dir: Path, echo: Callable[[str], None] = print) -> int:
    """Returns the number of emails that arrived."""
    operator = load_config(config_dir)
    with (
        tempfile.TemporaryDirectory(prefix="treatywatch-demo-") as tmp,
        FixtureServer(demo_data() / "fixtures") as http,
        SmtpSink() as smtp,
    ):
        env = {"DEMO_BASE": http.base, "DEMO_SMTP": smtp.url()}
        local = {
            name: ConfigFile.model_validate(load_yaml(demo_data() / f"{name}.yaml", env).data)
            for name in ("sources", "subscribers")
        }
        config = operator.model_copy(
            update={
                "sources": local["sources"].sources,
                "subscribers": local["subscribers"].subscribers,
                "settings": Settings(state_dir=Path(tmp), web_port=0, per_host_delay=0.0),
            }
        )
        app = build_app(config, Watchlist(config), echo=echo, clock=lambda: FIXTURES_DAY)
        try:
            echo(
                f"Serving fixtures at {http.base}; SMTP sink at 127.0.0.1:{smtp.port}; the clock stands at "
                f"{FIXTURES_DAY:%Y-%m-%d %H:%M} UTC, the fixtures' day\n"
            )
            for src in config.sources:
                r = app.runner.poll(src.id)
                echo(
                    f"  polled {src.id:<18} {len(r.items)} items, {r.alerts} new alert(s)"
                    + (f"  ERROR: {r.error}" if r.error else "")
                )
            stats = app.outbox.run_once()
            echo(f"\nOutbox: {stats.sent} sent, {stats.failed} failed.\n{len(smtp.messages)} email(s) arrived:\n")
            for msg in smtp.messages:
                body = msg.get_body(preferencelist=("plain",))
                echo(f"--- Subject: {msg['subject']}\n{body.get_content().strip() if body else ''}\n")
            again = [app.runner.poll(s.id) for s in config.sources]
            app.outbox.run_once()
            echo(
                f"A second pass found {sum(r.new for r in again)} new items and sent nothing more "
                f"({len(smtp.messages)} emails in all)."
            )
        finally:
            app.close()
        return len(smtp.messages)
