"""The race's Optuna study, in a storage that several workers (processes, machines) share.

SQLite in the work folder by default, or any URL Optuna accepts. Workers open the study under a file lock, pop
queued trials under the database's write lock, and a trial whose worker process of this machine is gone is failed
and its candidate queued again.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)
ETA = 2  # successive halving keeps the better half at each rung


def worker_name() -> str:
    """This process as a race worker: `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(worker: str) -> bool:
    """Whether a worker `host:pid` of this machine still runs (workers of other machines: assumed alive)."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def serialized(engine: Any) -> None:
    """Make every transaction of a SQLite engine take the database's write lock when it begins. SQLite ignores
    the `SELECT … FOR UPDATE` with which Optuna pops a queued trial, so two workers could both read a trial as
    waiting and both run it; with `BEGIN IMMEDIATE` the second one reads it as running and takes the next."""
    from sqlalchemy import event

    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    engine.dispose()  # connections opened before the listener (creating the tables) are not reused


@contextmanager
def opening(storage: str) -> Iterator[None]:
    """Hold an exclusive lock on a SQLite storage's file while a worker opens the study. Optuna creates the tables
    and the study by check-then-write in autocommit, so workers starting together would each create them; `flock`
    does not touch the POSIX locks SQLite itself takes, so the database stays usable by others meanwhile."""
    from sqlalchemy.engine import make_url

    url = make_url(storage)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        yield
        return
    fd = os.open(url.database, os.O_RDWR | os.O_CREAT, 0o644)  # an empty file is an empty SQLite database
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # drops the lock


def open_study(storage: str, name: str, candidates: Sequence[str]) -> Any:
    """The race's Optuna study: created with one enqueued trial per candidate by the first worker, loaded by the
    others; trials of dead processes of this machine failed and their candidates queued again."""
    with opening(storage):
        return _open_study(storage, name, candidates)


def _open_study(storage: str, name: str, candidates: Sequence[str]) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # workers wait for each other's writes; the driver's own BEGIN is off so that `serialized` sets the mode
    sqlite = {"connect_args": {"timeout": 120, "isolation_level": None}} if storage.startswith("sqlite") else None
    rdb = _storage(storage, sqlite)
    if sqlite:
        serialized(rdb.engine)
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=ETA, min_early_stopping_rate=0)
    try:
        study = optuna.create_study(storage=rdb, study_name=name, direction="maximize", pruner=pruner)
        for c in candidates:  # only the creator enqueues: the storage refuses a second study of this name
            study.enqueue_trial({"candidate": c}, user_attrs={"candidate": c})
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(storage=rdb, study_name=name, pruner=pruner)
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        worker = t.user_attrs.get("worker", "")
        if worker and not _alive(worker):
            log.info("race: trial %d (%s) of a worker that is gone: failed and queued again", t.number, t.params.get("candidate"))
            rdb.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)  # the storage API names trials by id
            study.enqueue_trial({"candidate": t.params["candidate"]}, user_attrs={"candidate": t.params["candidate"]})
    return study


def _storage(storage: str, engine_kwargs: dict[str, Any] | None, tries: int = 10) -> Any:
    """Optuna's RDBStorage of `storage`. Creating it creates the tables by check-then-write; a program that opens
    the same new file without `opening`'s lock (a dashboard, a script) can create them in between, which fails
    this worker's write: the tables are there then, so it tries again."""
    import optuna
    from sqlalchemy.exc import IntegrityError, OperationalError

    def make() -> Any:
        with warnings.catch_warnings():  # the heartbeat and its retry are marked experimental by Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(storage, engine_kwargs=engine_kwargs, heartbeat_interval=60, grace_period=180,
                                              heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3))

    for attempt in range(tries - 1):
        try:
            return make()
        except (IntegrityError, OperationalError) as e:
            log.info("race: opening %s collided with another program's (%s); trying again", storage, type(e).__name__)
            time.sleep(0.2 * (attempt + 1))
    return make()
