"""Demo authentication service: FastAPI + SQLAlchemy 2.0 with two PostgreSQL pools.

It is built like the service of the incident lifeguard's defaults come from (a pool that ran
dry under login bursts): an async pool (asyncpg, AsyncAdaptedQueuePool) serving requests and a
sync pool (psycopg 3, QueuePool) used at start-up and, with SYNC_FALLBACK=1, as the incident's
fallback. The incident's defects can be switched on (SYNC_FALLBACK, LEAK_ON_ERROR, ERROR_RATE,
HOLD_MS) and both pools are exported as OpenTelemetry database-client connection metrics, with
the HTTP server's request duration, in the Prometheus text format on /metrics. See README.md.

Run from this folder: `python main.py` or `python -m uvicorn app:app` (one worker, one process).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import random
import secrets
import time
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import BigInteger, DateTime, ForeignKey, Text, create_engine, event, func, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool
from starlette.concurrency import run_in_threadpool

log = logging.getLogger("uvicorn.error")

PBKDF2_ITERATIONS = 1000  # modest on purpose: a login costs ~1 ms of CPU, not seconds
TOKEN_TTL = timedelta(hours=1)


# --------------------------------------------------------------------------- configuration
def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


@dataclass(frozen=True)
class Settings:
    database_url: str
    pool_size: int
    max_overflow: int
    sync_pool_size: int
    sync_max_overflow: int
    pool_timeout: float
    pool_recycle: int
    application_name: str
    seed_users: int
    seed_password: str
    sync_fallback: bool
    leak_on_error: bool
    error_rate: float
    hold_ms: float

    @classmethod
    def from_env(cls) -> Settings:
        if not os.environ.get("DATABASE_URL"):
            raise RuntimeError("DATABASE_URL is required, e.g. postgresql://user:pass@127.0.0.1:5432/db")
        settings = cls(
            database_url=os.environ["DATABASE_URL"],
            # Defaults: the incident's "current" configuration.
            pool_size=int(_env("POOL_SIZE", "10")),
            max_overflow=int(_env("MAX_OVERFLOW", "20")),
            sync_pool_size=int(_env("SYNC_POOL_SIZE", "10")),
            sync_max_overflow=int(_env("SYNC_MAX_OVERFLOW", "15")),
            pool_timeout=float(_env("POOL_TIMEOUT", "45")),
            pool_recycle=int(_env("POOL_RECYCLE", "3600")),
            application_name=_env("APPLICATION_NAME", "auth-service"),
            seed_users=int(_env("SEED_USERS", "1000")),
            seed_password=_env("SEED_PASSWORD", "demo-password"),
            sync_fallback=_env("SYNC_FALLBACK", "0") == "1",
            leak_on_error=_env("LEAK_ON_ERROR", "0") == "1",
            error_rate=float(_env("ERROR_RATE", "0")),
            hold_ms=float(_env("HOLD_MS", "0")),
        )
        if not 0.0 <= settings.error_rate <= 1.0:
            raise RuntimeError("ERROR_RATE must be between 0 and 1")
        return settings


def driver_urls(database_url: str) -> tuple[URL, URL]:
    """Derive the asyncpg and psycopg URLs from a plain postgresql:// URL."""
    url = make_url(database_url)
    if url.get_backend_name() not in ("postgresql", "postgres"):
        raise RuntimeError(f"DATABASE_URL must be a postgresql:// URL, not {url.drivername}://")
    async_url = url.set(drivername="postgresql+asyncpg")
    if "sslmode" in url.query:  # asyncpg spells libpq's sslmode as ssl
        async_url = async_url.difference_update_query(["sslmode"]).update_query_dict(
            {"ssl": url.query["sslmode"]}
        )
    return async_url, url.set(drivername="postgresql+psycopg")


# --------------------------------------------------------------------------- metrics
# OpenTelemetry db.client.connection.* metrics as the OTel Prometheus exporter names them,
# one series per pool (label pool_name = async | sync).
disable_created_metrics()  # no *_created series: keep the exposition to the OTel names
REGISTRY = CollectorRegistry()
POOL_NAMES = ("async", "sync")
SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 45, 60)

PENDING = Gauge("db_client_connection_pending_requests",
                "Checkouts waiting for a connection right now", ["pool_name"], registry=REGISTRY)
TIMEOUTS = Counter("db_client_connection_timeouts",
                   "Checkouts that gave up after pool_timeout", ["pool_name"], registry=REGISTRY)
WAIT_TIME = Histogram("db_client_connection_wait_time_seconds",
                      "Time to obtain a connection from the pool (timed-out attempts included)",
                      ["pool_name"], buckets=SECONDS, registry=REGISTRY)
CREATE_TIME = Histogram("db_client_connection_create_time_seconds",
                        "Time to open a new database connection", ["pool_name"], buckets=SECONDS,
                        registry=REGISTRY)
USE_TIME = Histogram("db_client_connection_use_time_seconds",
                     "Time between a connection's checkout and its checkin", ["pool_name"],
                     buckets=SECONDS, registry=REGISTRY)
# OpenTelemetry's http.server.request.duration (its advised buckets), per method, route and status.
REQUEST_DURATION = Histogram("http_server_request_duration_seconds",
                             "Duration of HTTP server requests (the metrics and debug endpoints left out)",
                             ["http_request_method", "http_route", "http_response_status_code"],
                             buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5,
                                      5, 7.5, 10),
                             registry=REGISTRY)
UNTIMED = ("/metrics", "/debug/")
for _name in POOL_NAMES:  # expose every series from the first scrape on
    for _metric in (PENDING, TIMEOUTS, WAIT_TIME, CREATE_TIME, USE_TIME):
        _metric.labels(_name)


class PoolStateCollector:
    """Connection counts read from SQLAlchemy's pools at scrape time, so that used/idle equal
    pool.checkedout()/pool.checkedin() exactly."""

    def __init__(self) -> None:
        self.pools: dict[str, tuple[Engine, int, int]] = {}  # name -> (engine, size, overflow)

    def collect(self):
        count = GaugeMetricFamily("db_client_connection_count",
                                  "Connections in the pool by state (used = checked out)",
                                  labels=["pool_name", "state"])
        idle_max = GaugeMetricFamily("db_client_connection_idle_max",
                                     "Idle connections the pool keeps (pool_size)", labels=["pool_name"])
        maximum = GaugeMetricFamily("db_client_connection_max",
                                    "Most connections the pool opens (pool_size + max_overflow)",
                                    labels=["pool_name"])
        for name, (engine, size, overflow) in self.pools.items():
            pool = engine.pool  # read each time: dispose() replaces the pool object
            count.add_metric([name, "used"], pool.checkedout())
            count.add_metric([name, "idle"], pool.checkedin())
            idle_max.add_metric([name], size)
            maximum.add_metric([name], size + overflow)
        yield from (count, idle_max, maximum)


POOL_STATE = PoolStateCollector()
REGISTRY.register(POOL_STATE)


def instrumented(base: type[QueuePool], pool_name: str) -> type[QueuePool]:
    """A pool class measuring waiters, wait time and timeouts around Pool.connect().

    SQLAlchemy has no event for a checkout that waits, but every Engine checkout goes through
    Pool.connect(), so it is wrapped here. A subclass (not a patched instance) survives
    engine.dispose(), which recreates the pool from its class."""

    class InstrumentedPool(base):  # type: ignore[valid-type, misc]
        def connect(self):
            PENDING.labels(pool_name).inc()
            started = time.perf_counter()
            try:
                return super().connect()
            except sa_exc.TimeoutError:
                TIMEOUTS.labels(pool_name).inc()
                raise
            finally:
                PENDING.labels(pool_name).dec()
                WAIT_TIME.labels(pool_name).observe(time.perf_counter() - started)

    InstrumentedPool.__name__ = f"Instrumented{base.__name__}"
    return InstrumentedPool


def instrument_events(engine: Engine, pool_name: str) -> None:
    """Feed create and use times from SQLAlchemy's dialect and pool events."""

    @event.listens_for(engine, "do_connect")
    def timed_connect(dialect, record, cargs, cparams):
        started = time.perf_counter()
        try:
            return dialect.connect(*cargs, **cparams)  # returning it ends the do_connect chain
        finally:
            CREATE_TIME.labels(pool_name).observe(time.perf_counter() - started)

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection, record, proxy):
        record.record_info["checked_out_at"] = time.perf_counter()

    @event.listens_for(engine, "checkin")
    def on_checkin(dbapi_connection, record):
        started = record.record_info.pop("checked_out_at", None)
        if started is not None:
            USE_TIME.labels(pool_name).observe(time.perf_counter() - started)


# --------------------------------------------------------------------------- schema
class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "demo_users"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    email: Mapped[str] = mapped_column(Text, unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    salt: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AuthSession(Base):
    __tablename__ = "demo_sessions"
    token: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("demo_users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def hash_password(password: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ITERATIONS).hex()


def verify_password(password: str, salt_hex: str, expected: str) -> bool:
    return hmac.compare_digest(hash_password(password, bytes.fromhex(salt_hex)), expected)


def init_database(engine: Engine, settings: Settings) -> int:
    """Create the tables and seed user1..userN@demo.test, idempotently; returns rows added.

    One salted hash of SEED_PASSWORD is computed here and stored for every seeded user, so one
    INSERT ... SELECT generate_series seeds 10,000 users in well under a second. Existing users
    are left as they are (a changed SEED_PASSWORD applies to new users only)."""
    Base.metadata.create_all(engine)
    salt = secrets.token_bytes(16)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM demo_sessions WHERE expires_at < now()"))
        added = conn.execute(
            text("INSERT INTO demo_users (id, email, password_hash, salt) "
                 "SELECT n, 'user' || n || '@demo.test', :hash, :salt "
                 "FROM generate_series(1, CAST(:n AS bigint)) AS n ON CONFLICT DO NOTHING"),
            {"hash": hash_password(settings.seed_password, salt), "salt": salt.hex(),
             "n": settings.seed_users},
        ).rowcount
    return added


# --------------------------------------------------------------------------- runtime
class Runtime:
    """Settings, engines and session factories, built by the app's lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        async_url, sync_url = driver_urls(settings.database_url)
        self.async_engine = create_async_engine(
            async_url,
            poolclass=instrumented(AsyncAdaptedQueuePool, "async"),
            pool_size=settings.pool_size, max_overflow=settings.max_overflow,
            pool_timeout=settings.pool_timeout, pool_recycle=settings.pool_recycle,
            connect_args={"server_settings": {"application_name": f"{settings.application_name}:async"}},
        )
        self.sync_engine = create_engine(
            sync_url,
            poolclass=instrumented(QueuePool, "sync"),
            pool_size=settings.sync_pool_size, max_overflow=settings.sync_max_overflow,
            pool_timeout=settings.pool_timeout, pool_recycle=settings.pool_recycle,
            connect_args={"application_name": f"{settings.application_name}:sync"},
        )
        instrument_events(self.async_engine.sync_engine, "async")
        instrument_events(self.sync_engine, "sync")
        POOL_STATE.pools = {
            "async": (self.async_engine.sync_engine, settings.pool_size, settings.max_overflow),
            "sync": (self.sync_engine, settings.sync_pool_size, settings.sync_max_overflow),
        }
        self.async_sessions = async_sessionmaker(self.async_engine, expire_on_commit=False)
        self.sync_sessions = sessionmaker(self.sync_engine, expire_on_commit=False)


rt: Runtime  # set by lifespan()

# Sessions abandoned by LEAK_ON_ERROR. They are kept referenced on purpose: otherwise the
# garbage collector would eventually hand their connections back to the pool.
LEAKED: list[object] = []


class SimulatedError(Exception):
    """The application error that ERROR_RATE injects while a transaction is open."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def should_fail() -> bool:
    return random.random() < rt.settings.error_rate


@asynccontextmanager
async def async_scope():
    session = rt.async_sessions()
    leaked = False
    try:
        yield session
    except SimulatedError:
        # INCIDENT DEFECT (LEAK_ON_ERROR=1): the error path skips close(), so the connection is
        # never rolled back nor returned; it stays checked out, "idle in transaction" on the server.
        leaked = rt.settings.leak_on_error
        if leaked:
            LEAKED.append(session)
        raise
    finally:
        if not leaked:
            await session.close()  # rollback if still open, return the connection


@contextmanager
def sync_scope():
    session = rt.sync_sessions()
    leaked = False
    try:
        yield session
    except SimulatedError:
        leaked = rt.settings.leak_on_error  # same INCIDENT DEFECT as async_scope()
        if leaked:
            LEAKED.append(session)
        raise
    finally:
        if not leaked:
            session.close()


async def app_work_async() -> None:
    """HOLD_MS of application work, then maybe an error, with the transaction open."""
    if rt.settings.hold_ms > 0:
        await asyncio.sleep(rt.settings.hold_ms / 1000)
    if should_fail():
        raise SimulatedError("simulated application error")


def app_work_sync() -> None:
    if rt.settings.hold_ms > 0:
        time.sleep(rt.settings.hold_ms / 1000)
    if should_fail():
        raise SimulatedError("simulated application error")


# --------------------------------------------------------------------------- request flows
# Each flow is one session and one transaction. The async and sync versions are the same steps.
async def login_async(email: str, password: str) -> str | None:
    async with async_scope() as s:
        user = (await s.execute(select(User).where(User.email == email))).scalar_one_or_none()
        # The hash is checked while the transaction holds its connection (on purpose: its CPU
        # time counts towards the connection's use time).
        if user is None or not verify_password(password, user.salt, user.password_hash):
            return None
        await app_work_async()
        token = secrets.token_urlsafe(32)
        s.add(AuthSession(token=token, user_id=user.id, expires_at=utcnow() + TOKEN_TTL))
        await s.commit()
        return token


def login_sync(email: str, password: str) -> str | None:
    with sync_scope() as s:
        user = s.execute(select(User).where(User.email == email)).scalar_one_or_none()
        if user is None or not verify_password(password, user.salt, user.password_hash):
            return None
        app_work_sync()
        token = secrets.token_urlsafe(32)
        s.add(AuthSession(token=token, user_id=user.id, expires_at=utcnow() + TOKEN_TTL))
        s.commit()
        return token


async def validate_async(token: str) -> dict | None:
    async with async_scope() as s:
        auth = await s.get(AuthSession, token)
        user = await s.get(User, auth.user_id) if auth and auth.expires_at > utcnow() else None
        if user is None:
            return None
        await app_work_async()
        auth.last_seen_at = func.now()
        await s.commit()
        return {"user_id": user.id, "email": user.email}


def validate_sync(token: str) -> dict | None:
    with sync_scope() as s:
        auth = s.get(AuthSession, token)
        user = s.get(User, auth.user_id) if auth and auth.expires_at > utcnow() else None
        if user is None:
            return None
        app_work_sync()
        auth.last_seen_at = func.now()
        s.commit()
        return {"user_id": user.id, "email": user.email}


async def with_sync_fallback(async_flow, sync_flow, *args):
    try:
        return await async_flow(*args)
    except Exception as exc:
        if not rt.settings.sync_fallback:
            raise
        # INCIDENT DEFECT (SYNC_FALLBACK=1): like the incident's get_current_user(), any failure
        # of the async path -- pool timeouts included -- is retried whole on the sync pool, so an
        # exhausted async pool spills its load onto a second pool instead of failing fast.
        log.warning("async path failed (%s); redoing the request on the sync pool", type(exc).__name__)
        return await run_in_threadpool(sync_flow, *args)


# --------------------------------------------------------------------------- HTTP
@asynccontextmanager
async def lifespan(app: FastAPI):
    global rt
    started = time.perf_counter()
    rt = Runtime(Settings.from_env())
    added = await run_in_threadpool(init_database, rt.sync_engine, rt.settings)
    log.info("auth-service ready in %.2f s (%d users seeded, %d new)",
             time.perf_counter() - started, rt.settings.seed_users, added)
    yield
    await rt.async_engine.dispose()
    rt.sync_engine.dispose()


app = FastAPI(title="lifeguard demo auth-service", lifespan=lifespan)


@app.middleware("http")
async def timed(request: Request, call_next):
    """Each request's duration into REQUEST_DURATION, by the route it matched."""
    started = time.perf_counter()
    status = 500
    try:
        response = await call_next(request)
        status = response.status_code
        return response
    finally:
        path = request.url.path
        if not path.startswith(UNTIMED):
            route = getattr(request.scope.get("route"), "path", path)
            REQUEST_DURATION.labels(request.method, route, str(status)).observe(
                time.perf_counter() - started)


@app.exception_handler(sa_exc.TimeoutError)
async def pool_timeout_handler(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "database connection pool exhausted: no connection within "
                                   f"pool_timeout ({rt.settings.pool_timeout:g} s)"},
                        status_code=503, headers={"Retry-After": "1"})


@app.exception_handler(sa_exc.OperationalError)
@app.exception_handler(sa_exc.InterfaceError)  # e.g. a pooled connection the server has closed
@app.exception_handler(OSError)  # e.g. connection refused while opening a new connection
async def database_down_handler(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": f"database unavailable ({type(exc).__name__})"}, status_code=503)


@app.exception_handler(SimulatedError)
async def simulated_error_handler(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "simulated application error"}, status_code=500)


@app.exception_handler(Exception)
async def internal_error_handler(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": f"internal server error ({type(exc).__name__})"}, status_code=500)


async def read_credentials(request: Request) -> tuple[str, str]:
    """Email and password from a JSON or a form-encoded body."""
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            data = await request.form()
        else:
            data = await request.json()
    except ValueError:
        raise HTTPException(422, "body must be JSON or form-encoded") from None
    email = data.get("email") if hasattr(data, "get") else None
    password = data.get("password") if hasattr(data, "get") else None
    if not isinstance(email, str) or not isinstance(password, str):
        raise HTTPException(422, "email and password are required")
    return email, password


# Every endpoint is `async def`: none may need a threadpool thread, which SYNC_FALLBACK can use up.
@app.post("/auth/login")
async def login(request: Request):
    email, password = await read_credentials(request)
    token = await with_sync_fallback(login_async, login_sync, email, password)
    if token is None:
        raise HTTPException(401, "invalid email or password")
    return {"access_token": token, "token_type": "bearer"}


@app.get("/auth/validate")
async def validate(request: Request):
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    identity = await with_sync_fallback(validate_async, validate_sync, token.strip())
    if identity is None:
        raise HTTPException(401, "invalid or expired token", headers={"WWW-Authenticate": "Bearer"})
    return identity


@app.get("/health")
async def health():
    return {"status": "ok"}


@app.get("/metrics")
async def metrics():
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_PLAIN_0_0_4)


def pool_snapshot(engine: Engine) -> dict:
    pool = engine.pool
    return {"checked_out": pool.checkedout(), "checked_in": pool.checkedin(),
            "overflow": pool.overflow(), "size": pool.size(), "status": pool.status()}


@app.get("/debug/pool")
async def debug_pool():
    return {"async": pool_snapshot(rt.async_engine.sync_engine), "sync": pool_snapshot(rt.sync_engine)}
