"""The bot as a real process: a digest fires at its minute, and a kill and restart never repeat it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from conftest import REPO

BRIEFBOT = Path(sys.executable).parent / "briefbot"


class Bot:
    """A ``briefbot run --stay`` process whose output is collected as it comes."""

    def __init__(self, env, commands: str = "") -> None:
        self.proc = subprocess.Popen([str(BRIEFBOT), "run", "--stay"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
        self.out: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.proc.stdin.write(commands.encode())
        self.proc.stdin.close()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.out.append(line.decode())

    def text(self) -> str:
        return "".join(self.out)

    def wait_for(self, needle: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text():
                return True
            if self.proc.poll() is not None:
                return needle in self.text()
            time.sleep(0.2)
        return False

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def test_a_digest_fires_at_its_minute_and_a_restart_does_not_post_it_again(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIEFBOT_", "SLACK_", "DISCORD_"))}
    env["BRIEFBOT_DATA_DIR"] = str(tmp_path)
    now = datetime.now(timezone.utc)
    slot = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    if (slot - now).total_seconds() < 20:
        slot += timedelta(minutes=1)
    first = Bot(env, f"/brief schedule daily {slot:%H:%M} UTC\n")
    try:
        assert first.wait_for("Digest scheduled", 30), first.text()
        assert first.wait_for("Your digest", (slot - datetime.now(timezone.utc)).total_seconds() + 30), first.text()
        assert wait_until(lambda: deliveries(tmp_path) == [(f"{slot:%Y-%m-%dT%H:%M}+0000", "posted")], 10)
    finally:
        first.kill()

    second = Bot(env)  # restarted against the same database, still within the misfire grace
    try:
        assert second.wait_for("Latest briefing", 30)
        time.sleep(2)
    finally:
        second.kill()

    assert first.text().count("Your digest") == 1
    assert second.text().count("Your digest") == 0
    assert deliveries(tmp_path) == [(f"{slot:%Y-%m-%dT%H:%M}+0000", "posted")]


def deliveries(data_dir: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(data_dir / "briefbot.db") as db:
        return db.execute("select slot, status from deliveries").fetchall()


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()
