"""The registry's database: one engine per URL, connections that wait out a restarting server, and the
locks every host shares (a PostgreSQL advisory lock, or a file lock beside an SQLite registry).

A server that restarts drops every connection, and the advisory locks with them, without telling the
holder. So a transaction opened while this process holds such a lock checks, before it commits, that
the lock's own connection is still alive: a lock lost in the middle is one error (`RegistryLockLost`,
and the step is retried) instead of a write made without it."""

import atexit
import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import sqlalchemy as sa
import tenacity

from benchgen_dagster.migrations import migrate

log = logging.getLogger(__name__)

# How long a connection waits for a database that does not answer (a restart takes seconds).
CONNECT_WINDOW_S = 60.0

# One engine per database URL for the whole process: Dagster builds a fresh resource object for every
# run and sensor tick, and an engine each would leak a connection pool each.
_ENGINES: dict[str, sa.Engine] = {}
_ENGINES_LOCK = threading.Lock()
# The advisory locks this thread (or task) holds: their names and the connections that hold them.
_HELD: ContextVar[tuple[tuple[str, sa.Connection], ...]] = ContextVar("benchgen_registry_locks", default=())


class RegistryLockTimeout(TimeoutError):
    """A registry lock stayed taken for longer than the caller would wait."""


class RegistryLockLost(ConnectionError):
    """The connection holding a registry lock dropped (the server restarted), so the lock is gone."""


def engine_for(url: str) -> sa.Engine:
    with _ENGINES_LOCK:
        if url in _ENGINES:
            return _ENGINES[url]
        try:
            engine = sa.create_engine(
                url,
                pool_pre_ping=True,
                # SQLite connections are cheap: open one per use, so none outlives the interpreter.
                poolclass=sa.pool.NullPool if url.startswith("sqlite") else None,
            )
        except (sa.exc.ArgumentError, ImportError) as error:
            raise ConnectionError(f"the registry database URL is not usable: {error}") from None
        try:
            migrate(engine)
        except sa.exc.OperationalError as error:
            engine.dispose()
            raise ConnectionError(
                f"the registry database {engine.url.render_as_string(hide_password=True)} cannot be reached: "
                f"{str(error.orig).splitlines()[0] if error.orig else error}"
            ) from None
        # Return pooled connections before the interpreter tears psycopg2 down.
        atexit.register(engine.dispose)
        _ENGINES[url] = engine
        return engine


# What the server answers when it is there but refuses this client: waiting cures none of them.
_REFUSALS = ("authentication failed", "does not exist", "no pg_hba.conf entry", "permission denied")


def _unreachable(error: BaseException) -> bool:
    """A connection that failed because the server is not there (yet): down, restarting, starting up."""
    if not isinstance(error, sa.exc.OperationalError):
        return False
    message = str(error.orig or error).lower()
    return not any(refusal in message for refusal in _REFUSALS)


def connect(engine: sa.Engine, window_s: float = CONNECT_WINDOW_S) -> sa.Connection:
    """A connection, waiting (with backoff, each try logged) while the server cannot be reached: nothing
    was sent yet, so trying again is always safe. A server that refuses (a wrong password, a role or a
    database that is not there) is one error at once. The pool's pre-ping replaces connections a restart
    dropped."""

    def waiting(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        reason = str(getattr(error, "orig", None) or error).splitlines()[0] if error else ""
        log.warning(
            "the registry database %s cannot be reached (try %d, %s); retrying in %.1f s",
            engine.url.render_as_string(hide_password=True),
            state.attempt_number,
            reason,
            state.upcoming_sleep,
        )

    connection: sa.Connection = tenacity.Retrying(
        retry=tenacity.retry_if_exception(_unreachable),
        stop=tenacity.stop_after_delay(window_s),
        wait=tenacity.wait_exponential_jitter(initial=0.2, max=5.0),
        before_sleep=waiting,
        reraise=True,
    )(engine.connect)
    return connection


@contextmanager
def transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that commits only while every registry lock this thread holds is still held."""
    with connect(engine) as connection, connection.begin():
        yield connection
        assert_locks_held()


def assert_locks_held() -> None:
    for name, holder in _HELD.get():
        try:
            holder.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            raise RegistryLockLost(
                f"the registry lock {name!r} was lost (the database restarted or dropped its connection): "
                "nothing was written under it"
            ) from None


@contextmanager
def advisory_lock(engine: sa.Engine, name: str, timeout_s: float) -> Iterator[None]:
    """A PostgreSQL advisory lock named `name`, held by a connection of its own (so a process that dies
    holding it lets it go)."""
    digest = hashlib.sha256(f"benchgen:{name}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    with connect(engine).execution_options(isolation_level="AUTOCOMMIT") as holder:
        holder.execute(sa.text(f"SET lock_timeout = '{int(timeout_s * 1000)}ms'"))
        try:
            holder.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
        except sa.exc.OperationalError as error:
            raise RegistryLockTimeout(f"the registry lock {name!r} was not free in {timeout_s:g} s") from error
        finally:
            holder.execute(sa.text("RESET lock_timeout"))
        token = _HELD.set((*_HELD.get(), (name, holder)))
        try:
            yield
        finally:
            _HELD.reset(token)
            try:
                holder.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            except sa.exc.SQLAlchemyError:
                # The server let the lock go with the connection; every write under it checked it first.
                log.warning("the registry lock %r was already gone when released", name)
                holder.invalidate()


@contextmanager
def file_lock(engine: sa.Engine, name: str, timeout_s: float) -> Iterator[None]:
    """A file lock beside an SQLite registry, which lives on one host."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        raise ValueError(f"the registry {engine.url.render_as_string()} has no lock shared between processes")
    from filelock import FileLock, Timeout

    slug = hashlib.sha256(name.encode()).hexdigest()[:16]
    try:
        with FileLock(f"{database}.{slug}.lock", timeout=timeout_s):
            yield
    except Timeout as error:
        raise RegistryLockTimeout(f"the registry lock {name!r} was not free in {timeout_s:g} s") from error
