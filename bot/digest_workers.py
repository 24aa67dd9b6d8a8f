"""Where digests are composed: this process's threads, or worker processes.

Composing a digest is CPU-bound Python. In threads it shares the interpreter lock with the
event loop, so while a large slot drains, the loop waits for the lock and commands are
acknowledged late. In a worker process (``BRIEFBOT_DIGEST_PROCESSES``; one by default on
PostgreSQL, where a replica serves many channels) it runs on another core: the replica's own
interpreter is left to the event loop, taking batches from the queue and posting them.
Recording a posted digest is a short transaction that mostly waits for the database's commit,
so it runs in this process's threads, two at a time, whose waits overlap.

A worker is started with ``spawn`` the first time a digest is due (an idle bot has none) and
opens its own connection pool and summarizer from the same settings. On SQLite the default is
threads: one process, as small as it can be.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Collection
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime

from .digests import ChannelDigest, Composed, compose_claimed, record_posted
from .service import BriefingService
from .settings import Settings
from .store.channels import Claim

log = logging.getLogger(__name__)

# Threads for the ledger (and for composing, without worker processes). Composing is CPU-bound
# Python, so more threads than this buy nothing but contention for the interpreter lock.
THREADS = 2

# How often a worker process checks that the bot that started it is still there (seconds).
ORPHAN_CHECK = 1.0

_SERVICE: BriefingService | None = None  # in a worker process: its own service


def _start_worker(settings: Settings, parent: int) -> None:
    from .store import Store

    global _SERVICE
    _SERVICE = BriefingService(settings, Store.open(settings.database_url))
    threading.Thread(target=_exit_with, args=(parent,), name="briefbot-orphan-check", daemon=True).start()


def _exit_with(parent: int) -> None:
    """A worker outlives a parent killed outright (its queues never close): leave when it is gone."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK)
    os._exit(0)


def _compose_in_worker(claims: list[Claim], now: datetime, platforms: tuple[str, ...]) -> list[Composed]:
    return compose_claimed(_SERVICE, claims, now, platforms)


def processes_for(settings: Settings, shared: bool) -> int:
    """How many worker processes compose digests: as configured, else one on a shared database."""
    if settings.digest_processes is not None:
        return settings.digest_processes
    return 1 if shared else 0


class DigestWorkers:
    """Runs :func:`compose_claimed` (and :func:`record_posted`) off the event loop."""

    def __init__(self, service: BriefingService, processes: int) -> None:
        self.service = service
        self.processes = processes
        self.threads = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="briefbot-digest")
        self._pool: ProcessPoolExecutor | None = None

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids (none until the first digest, and none in thread mode)."""
        return list(self._pool._processes or {}) if self._pool is not None else []

    async def compose(self, claims: list[Claim], now: datetime, platforms: Collection[str]) -> list[Composed]:
        if self.processes:
            return await self._in(self._workers(), _compose_in_worker, claims, now, tuple(platforms))
        return await self._in(self.threads, compose_claimed, self.service, claims, now, platforms)

    async def record(self, delivery_id: int, now: datetime, ref: str | None, digest: ChannelDigest) -> None:
        return await self._in(self.threads, record_posted, self.service.store, delivery_id, now, ref, digest)

    async def run(self, work, *args):
        """Light work of the ledger, in this process's threads."""
        return await self._in(self.threads, work, *args)

    def close(self) -> None:
        self.threads.shutdown(wait=False, cancel_futures=True)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _workers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.processes,
                                             mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start_worker,
                                             initargs=(self.service.settings, os.getpid()))
            log.info("composing digests in %d worker process(es)", self.processes)
        return self._pool

    @staticmethod
    async def _in(executor: Executor, work, *args):
        return await asyncio.get_running_loop().run_in_executor(executor, work, *args)
