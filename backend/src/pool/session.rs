//! One server connection driven inline by whichever task holds it: the pool's connections.
//!
//! tokio-postgres runs each connection's I/O on a task of its own and reaches it through
//! channels, so every statement crosses two channels and wakes two tasks. Measured on the
//! auth-flow transaction, that architecture was most of the client CPU lifeguard spent beyond
//! pgbench's (`engine_vs_pgbench`). A pooled connection is used by one request at a time, as
//! libpq's and SQLAlchemy's are, so here the request's own task writes the extended-query
//! messages and reads the answer up to `ReadyForQuery`: no task, no channel, one buffer each way.
//!
//! The startup (TLS refusal, authentication, parameters) is tokio-postgres's own, run over a
//! socket it borrows through [`Handoff`] and gives back once `ReadyForQuery` arrived; its client
//! and connection are then dropped without ever being polled again, so they write nothing.
//!
//! A request whose future is dropped halfway through an exchange (a run aborted, a timeout)
//! leaves the session [`Session::is_usable`] no longer: the pool closes it instead of reusing a
//! connection whose answers are out of step.

use std::cell::Cell;
use std::error::Error as StdError;
use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::BytesMut;
use fallible_iterator::FallibleIterator as _;
use postgres_protocol::message::backend::{DataRowBody, ErrorResponseBody, Message};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{Format, FromSql, IsNull, ToSql, Type};

use super::connect::{ConnectError, timeout_of};

/// An error of a session's exchange.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The server's error for the statement: the session stays usable, unless the server closed
    /// the connection after it (a `FATAL` error).
    #[error("{}", .0.message)]
    Db(Box<DbError>),
    #[error("the connection failed: {0}")]
    Io(#[from] io::Error),
    #[error("the server closed the connection")]
    Closed,
    #[error("the connection is unusable: an earlier exchange was abandoned halfway")]
    Abandoned,
    #[error("unexpected message from the server ({0})")]
    Protocol(&'static str),
    #[error("the statement takes {expected} parameters, {given} given")]
    Parameters { expected: usize, given: usize },
    #[error("parameter {index}: {cause}")]
    Encode {
        index: usize,
        cause: Box<dyn StdError + Send + Sync>,
    },
    #[error("column {index}: {cause}")]
    Column { index: usize, cause: String },
    #[error("the query returned more than one row")]
    MoreThanOneRow,
    #[error("type oid {0} is not a built-in type")]
    UnknownType(u32),
}

impl SessionError {
    /// The server's SQLSTATE, when the server reported the error.
    #[must_use]
    pub fn code(&self) -> Option<&SqlState> {
        match self {
            Self::Db(db) => Some(&db.code),
            _ => None,
        }
    }
}

/// What the server said of a failed statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    /// `ERROR`, `FATAL`, … (not localized).
    pub severity: String,
    pub code: SqlState,
    pub message: String,
}

impl DbError {
    fn parse(body: &ErrorResponseBody) -> io::Result<Self> {
        let (mut severity, mut localized, mut code, mut message) = (None, None, None, None);
        let mut fields = body.fields();
        while let Some(field) = fields.next()? {
            let value = Some(String::from_utf8_lossy(field.value_bytes()).into_owned());
            match field.type_() {
                b'V' => severity = value,
                b'S' => localized = value,
                b'C' => code = value,
                b'M' => message = value,
                _ => {}
            }
        }
        Ok(Self {
            severity: severity.or(localized).unwrap_or_default(),
            code: SqlState::from_code(code.as_deref().unwrap_or("XX000")),
            message: message.unwrap_or_default(),
        })
    }
}

/// A statement prepared on one session; cheap to clone.
#[derive(Debug, Clone)]
pub struct Statement(Arc<Prepared>);

#[derive(Debug)]
struct Prepared {
    name: String,
    params: Vec<Type>,
    columns: Arc<[Type]>,
}

impl Statement {
    /// The types of the statement's parameters, as the server inferred them.
    #[must_use]
    pub fn params(&self) -> &[Type] {
        &self.0.params
    }
}

/// One row of a result, read in the binary format.
#[derive(Debug)]
pub struct Row {
    columns: Arc<[Type]>,
    body: DataRowBody,
    ranges: Vec<Option<Range<usize>>>,
}

impl Row {
    /// Column `index` as a `T`.
    pub fn try_get<'a, T: FromSql<'a>>(&'a self, index: usize) -> Result<T, SessionError> {
        let column = |cause: String| SessionError::Column { index, cause };
        let ty = self
            .columns
            .get(index)
            .ok_or_else(|| column(format!("the row has {} columns", self.columns.len())))?;
        if !T::accepts(ty) {
            return Err(column(format!(
                "a {ty} cannot be read as {}",
                std::any::type_name::<T>()
            )));
        }
        let raw = self
            .ranges
            .get(index)
            .cloned()
            .flatten()
            .and_then(|range| self.body.buffer().get(range));
        T::from_sql_nullable(ty, raw).map_err(|cause| column(cause.to_string()))
    }
}

/// Where a session is in the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between exchanges: the server waits for the next message.
    Ready,
    /// Messages were sent and their answer not yet read up to `ReadyForQuery`.
    InFlight,
    /// The socket failed or the server closed it.
    Closed,
}

/// One server connection; see the module's documentation.
#[derive(Debug)]
pub struct Session {
    socket: Socket,
    input: BytesMut,
    output: BytesMut,
    phase: Phase,
    /// Statements prepared so far, for their names.
    prepared: u32,
    /// Where an answer is read as soon as its request is sent, before the bytes join `input`;
    /// `None` when the session waits for the reactor instead (see [`set_read_ahead`]).
    read_ahead: Option<Box<[u8]>>,
}

thread_local! {
    static READ_AHEAD: Cell<bool> = const { Cell::new(false) };
}

/// Says whether sessions opened from now on on this thread read each answer as soon as the
/// request is sent, when their server is on this machine — an engine thread's choice, made
/// when it starts (see [`crate::runner::engine`]).
///
/// Reading at once, before the reactor says the socket is readable, finds the answer already
/// there when the server's backend ran on the client's own core as soon as the request was
/// written — which is where it runs when the engine's threads fill every core. The thread then
/// alternates with the server tightly, as pgbench's do (libpq reads right after sending).
/// When a core is left to the server, its backends answer from there, and a read at once
/// mostly finds nothing and sometimes pulls a backend onto the engine's core, away from the
/// free one. A remote server never answers that fast. Measured with `engine_vs_pgbench`, on
/// and off in alternating sides of one invocation, on this project's 2-core machine: on two
/// engine threads 5–15 % more throughput (the medians of three cases) at up to a tenth less
/// client CPU per transaction; on one, 5–10 % less throughput.
pub fn set_read_ahead(on: bool) {
    READ_AHEAD.with(|read_ahead| read_ahead.set(on));
}

impl Session {
    /// Opens a session as `config` says, within [`timeout_of`]`(config)` for the whole of it.
    pub async fn open(config: &tokio_postgres::Config) -> Result<Self, ConnectError> {
        let timeout = timeout_of(config);
        tokio::time::timeout(timeout, Self::open_unbounded(config))
            .await
            .map_err(|_elapsed| ConnectError::TimedOut(timeout))?
    }

    async fn open_unbounded(config: &tokio_postgres::Config) -> Result<Self, ConnectError> {
        let socket = Socket::open(config).await.map_err(ConnectError::Socket)?;
        let handoff = Handoff(Arc::new(Mutex::new(Some(socket))));
        let (client, connection) = config
            .connect_raw(handoff.clone(), tokio_postgres::NoTls)
            .await
            .map_err(ConnectError::Failed)?;
        drop((client, connection));
        let socket = handoff.take_back().ok_or_else(|| {
            ConnectError::Socket(io::Error::other("the socket was not handed back"))
        })?;
        let read_ahead = (READ_AHEAD.with(Cell::get) && socket.is_local())
            .then(|| vec![0; 8192].into_boxed_slice());
        Ok(Self {
            read_ahead,
            socket,
            input: BytesMut::with_capacity(8192),
            output: BytesMut::with_capacity(1024),
            phase: Phase::Ready,
            prepared: 0,
        })
    }

    /// Whether this session reads each answer as soon as its request is sent (see
    /// [`set_read_ahead`]).
    #[must_use]
    pub fn reads_ahead(&self) -> bool {
        self.read_ahead.is_some()
    }

    /// Whether the session can take the next exchange: not closed, and no answer left unread.
    #[must_use]
    pub fn is_usable(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// Prepares `sql` (parameters' types inferred by the server).
    pub async fn prepare(&mut self, sql: &str) -> Result<Statement, SessionError> {
        let [statement] = self.prepare_all([sql]).await?;
        Ok(statement)
    }

    /// Prepares several statements in one round trip: a workload's set on a new connection
    /// costs its first request one wait for the server, not one per statement.
    pub async fn prepare_all<const N: usize>(
        &mut self,
        sqls: [&str; N],
    ) -> Result<[Statement; N], SessionError> {
        self.check_ready()?;
        let mut names = Vec::with_capacity(N);
        for sql in sqls {
            let name = format!("lifeguard_{}", self.prepared);
            self.prepared += 1;
            frontend::parse(&name, sql, std::iter::empty(), &mut self.output)?;
            frontend::describe(b'S', &name, &mut self.output)?;
            names.push(name);
        }
        frontend::sync(&mut self.output);
        self.send().await?;
        // Each statement's answer: ParseComplete, ParameterDescription, RowDescription or NoData.
        let (mut params, mut columns) = (Vec::with_capacity(N), Vec::with_capacity(N));
        self.answer("while preparing", |message| {
            match message {
                Message::ParameterDescription(body) => {
                    params.push(body.parameters().map(Ok).collect::<Vec<_>>()?);
                }
                Message::RowDescription(body) => {
                    columns.push(
                        body.fields()
                            .map(|field| Ok(field.type_oid()))
                            .collect::<Vec<_>>()?,
                    );
                }
                Message::NoData => columns.push(Vec::new()),
                Message::ParseComplete => {}
                _ => return Ok(false),
            }
            Ok(true)
        })
        .await?;
        if params.len() != N || columns.len() != N {
            return Err(self.out_of_step("describing prepared statements"));
        }
        let known = |oid| Type::from_oid(oid).ok_or(SessionError::UnknownType(oid));
        let mut statements = Vec::with_capacity(N);
        for ((name, params), columns) in names.into_iter().zip(params).zip(columns) {
            statements.push(Statement(Arc::new(Prepared {
                name,
                params: params.into_iter().map(known).collect::<Result<_, _>>()?,
                columns: columns.into_iter().map(known).collect::<Result<_, _>>()?,
            })));
        }
        statements
            .try_into()
            .map_err(|_counted_above| SessionError::Protocol("describing prepared statements"))
    }

    /// Runs `statement`; the number of rows it affected or returned.
    pub async fn execute(
        &mut self,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, SessionError> {
        let mut ignore = |_: DataRowBody| Ok(());
        self.run(statement, params, &mut ignore).await
    }

    /// Runs `statement` and returns its row, if it returned one (more than one is an error).
    pub async fn query_opt(
        &mut self,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, SessionError> {
        let mut first = None;
        let mut more = false;
        let mut keep = |body: DataRowBody| {
            if first.is_some() {
                more = true;
            } else {
                first = Some(body);
            }
            Ok(())
        };
        self.run(statement, params, &mut keep).await?;
        if more {
            return Err(SessionError::MoreThanOneRow);
        }
        let Some(body) = first else {
            return Ok(None);
        };
        let ranges = body.ranges().collect().map_err(SessionError::Io)?;
        Ok(Some(Row {
            columns: statement.0.columns.clone(),
            body,
            ranges,
        }))
    }

    /// Runs `sql` through the simple query protocol (one or more statements, results ignored):
    /// `ROLLBACK`, a pre-ping's `SELECT 1`.
    pub async fn batch_execute(&mut self, sql: &str) -> Result<(), SessionError> {
        self.check_ready()?;
        frontend::query(sql, &mut self.output)?;
        self.send().await?;
        self.answer("answering a simple query", |message| {
            Ok(matches!(
                message,
                Message::RowDescription(_)
                    | Message::DataRow(_)
                    | Message::CommandComplete(_)
                    | Message::EmptyQueryResponse
            ))
        })
        .await
    }

    /// Binds and executes `statement`, handing each row to `row`.
    async fn run(
        &mut self,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
        row: &mut (dyn FnMut(DataRowBody) -> Result<(), SessionError> + Send),
    ) -> Result<u64, SessionError> {
        self.check_ready()?;
        self.bind(statement, params)?;
        frontend::execute("", 0, &mut self.output)?;
        frontend::sync(&mut self.output);
        self.send().await?;
        let mut rows = 0;
        self.answer("answering a statement", |message| {
            match message {
                Message::DataRow(body) => row(body)?,
                Message::CommandComplete(body) => rows = rows_of(body.tag()?),
                Message::BindComplete | Message::EmptyQueryResponse => {}
                _ => return Ok(false),
            }
            Ok(true)
        })
        .await?;
        Ok(rows)
    }

    /// Reads an exchange's answer up to `ReadyForQuery`, handing every other message to `each`
    /// (which says `false` for one it does not expect there: the session is then out of step).
    /// The server's error, if one came, is the result once the answer is read to its end.
    async fn answer(
        &mut self,
        during: &'static str,
        mut each: impl FnMut(Message) -> Result<bool, SessionError> + Send,
    ) -> Result<(), SessionError> {
        let mut failed = None::<DbError>;
        loop {
            match self
                .receive()
                .await
                .map_err(|error| ended(&mut failed, error))?
            {
                Message::ErrorResponse(body) => failed = Some(DbError::parse(&body)?),
                Message::ReadyForQuery(_) => break,
                message => {
                    if !each(message)? {
                        return Err(self.out_of_step(during));
                    }
                }
            }
        }
        self.phase = Phase::Ready;
        failed.map_or(Ok(()), |db| Err(SessionError::Db(Box::new(db))))
    }

    /// Writes the Bind message (binary results); nothing is written when a parameter fails.
    fn bind(
        &mut self,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<(), SessionError> {
        let types = &statement.0.params;
        if params.len() != types.len() {
            return Err(SessionError::Parameters {
                expected: types.len(),
                given: params.len(),
            });
        }
        let formats = params
            .iter()
            .zip(types)
            .map(|(param, ty)| match param.encode_format(ty) {
                Format::Text => 0,
                Format::Binary => 1,
            });
        let mut failed = None;
        let values = params.iter().zip(types).enumerate();
        let bound = frontend::bind(
            "",
            &statement.0.name,
            formats,
            values,
            |(index, (param, ty)), buf| match param.to_sql_checked(ty, buf) {
                Ok(IsNull::No) => Ok(postgres_protocol::IsNull::No),
                Ok(IsNull::Yes) => Ok(postgres_protocol::IsNull::Yes),
                Err(cause) => {
                    failed = Some(index);
                    Err(cause)
                }
            },
            Some(1),
            &mut self.output,
        );
        match bound {
            Ok(()) => Ok(()),
            Err(error) => {
                self.output.clear();
                Err(match (error, failed) {
                    (frontend::BindError::Conversion(cause), Some(index)) => {
                        SessionError::Encode { index, cause }
                    }
                    (frontend::BindError::Conversion(cause), None) => {
                        SessionError::Encode { index: 0, cause }
                    }
                    (frontend::BindError::Serialization(error), _) => SessionError::Io(error),
                })
            }
        }
    }

    fn check_ready(&self) -> Result<(), SessionError> {
        match self.phase {
            Phase::Ready => Ok(()),
            Phase::InFlight => Err(SessionError::Abandoned),
            Phase::Closed => Err(SessionError::Closed),
        }
    }

    /// Writes what was queued; the session is in flight until the answer's `ReadyForQuery`.
    async fn send(&mut self) -> Result<(), SessionError> {
        self.phase = Phase::InFlight;
        let written = self.socket.write_all(&self.output).await;
        self.output.clear();
        written.map_err(|error| self.failed(error))
    }

    /// The next message that answers an exchange (notices and parameter changes skipped).
    ///
    /// When more bytes are needed and the session [reads ahead](set_read_ahead), the socket is
    /// read at once, before waiting for the reactor to say it is readable — as libpq does right
    /// after sending (`PQconsumeInput`).
    async fn receive(&mut self) -> Result<Message, SessionError> {
        loop {
            match Message::parse(&mut self.input) {
                Ok(Some(
                    Message::NoticeResponse(_)
                    | Message::ParameterStatus(_)
                    | Message::NotificationResponse(_),
                )) => continue,
                Ok(Some(message)) => return Ok(message),
                Ok(None) => {}
                Err(error) => return Err(self.failed(error)),
            }
            let now = match self.read_ahead.as_deref_mut() {
                Some(scratch) => self
                    .socket
                    .read_now(scratch)
                    .inspect(|&read| self.input.extend_from_slice(&scratch[..read])),
                None => Err(io::ErrorKind::WouldBlock.into()),
            };
            let read = match now {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.input.reserve(4096);
                    self.socket.read_buf(&mut self.input).await
                }
                read => read,
            };
            match read {
                Ok(0) => {
                    self.phase = Phase::Closed;
                    return Err(SessionError::Closed);
                }
                Ok(_) => {}
                Err(error) => return Err(self.failed(error)),
            }
        }
    }

    fn failed(&mut self, error: io::Error) -> SessionError {
        self.phase = Phase::Closed;
        SessionError::Io(error)
    }

    fn out_of_step(&mut self, during: &'static str) -> SessionError {
        self.phase = Phase::Closed;
        SessionError::Protocol(during)
    }
}

impl Drop for Session {
    /// Says goodbye (`Terminate`) if the socket takes it now, so the server logs a clean end.
    fn drop(&mut self) {
        if self.phase != Phase::Closed {
            let mut goodbye = BytesMut::with_capacity(5);
            frontend::terminate(&mut goodbye);
            let _best_effort = self.socket.try_write(&goodbye);
        }
    }
}

/// Why an exchange ended early: the server's error if it sent one before closing (a terminated
/// backend's `FATAL`), else what the socket said.
fn ended(failed: &mut Option<DbError>, error: SessionError) -> SessionError {
    failed
        .take()
        .map_or(error, |db| SessionError::Db(Box::new(db)))
}

/// The row count at the end of a command tag (`UPDATE 1`, `SELECT 3`; 0 for `BEGIN`).
fn rows_of(tag: &str) -> u64 {
    tag.rsplit(' ')
        .next()
        .and_then(|count| count.parse().ok())
        .unwrap_or(0)
}

/// A session's socket.
#[derive(Debug)]
enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Socket {
    /// Connects to the first of `config`'s hosts that answers, as tokio-postgres would: TCP with
    /// `TCP_NODELAY` and the configured keepalives, or the Unix socket in a host's directory.
    /// (`target_session_attrs` is not checked: a pool's target is one server.)
    async fn open(config: &tokio_postgres::Config) -> io::Result<Self> {
        let hosts = config.get_hosts();
        let addrs = config.get_hostaddrs();
        let ports = config.get_ports();
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no host is configured");
        for index in 0..hosts.len().max(addrs.len()) {
            let port = match ports {
                [one] => *one,
                [] => 5432,
                many => many.get(index).copied().unwrap_or(5432),
            };
            let opened = match (addrs.get(index), hosts.get(index)) {
                (Some(addr), _) => Self::tcp(TcpStream::connect((*addr, port)).await, config),
                (None, Some(Host::Tcp(host))) => {
                    Self::tcp(TcpStream::connect((host.as_str(), port)).await, config)
                }
                (None, Some(Host::Unix(dir))) => {
                    UnixStream::connect(dir.join(format!(".s.PGSQL.{port}")))
                        .await
                        .map(Self::Unix)
                }
                (None, None) => continue,
            };
            match opened {
                Ok(socket) => return Ok(socket),
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    fn tcp(stream: io::Result<TcpStream>, config: &tokio_postgres::Config) -> io::Result<Self> {
        let stream = stream?;
        stream.set_nodelay(true)?;
        if config.get_keepalives() {
            let mut keepalive =
                socket2::TcpKeepalive::new().with_time(config.get_keepalives_idle());
            if let Some(interval) = config.get_keepalives_interval() {
                keepalive = keepalive.with_interval(interval);
            }
            if let Some(retries) = config.get_keepalives_retries() {
                keepalive = keepalive.with_retries(retries);
            }
            socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive)?;
        }
        Ok(Self::Tcp(stream))
    }

    /// Whether the server is on this machine: a Unix socket, or TCP to a loopback address.
    fn is_local(&self) -> bool {
        match self {
            Self::Tcp(stream) => stream.peer_addr().is_ok_and(|peer| peer.ip().is_loopback()),
            Self::Unix(_) => true,
        }
    }

    /// Reads what has arrived so far, without waiting (`WouldBlock` when nothing has), whether
    /// or not the reactor has yet seen it arrive.
    ///
    /// When the reactor holds the socket readable, the read goes through it (`try_io`): that
    /// readiness is often stale — an earlier read at once took the bytes it was recorded for —
    /// and a `WouldBlock` here clears it, so the wait that follows does not begin with a read
    /// that was bound to find nothing (one system call in each request that misses, as libpq's
    /// `recv`, `poll`, `recv` has none). Otherwise the socket is read straight, and the reactor
    /// learns nothing: when it later reports the socket readable for bytes read here, the read
    /// it prompts finds `WouldBlock` and waits for the next arrival, so no wake-up is lost.
    fn read_now(&self, into: &mut [u8]) -> io::Result<usize> {
        use std::io::Read as _;
        let tried = Cell::new(false);
        let mut read = || {
            tried.set(true);
            let socket = match self {
                Self::Tcp(stream) => socket2::SockRef::from(stream),
                Self::Unix(stream) => socket2::SockRef::from(stream),
            };
            (&*socket).read(into)
        };
        let through_reactor = match self {
            Self::Tcp(stream) => stream.try_io(tokio::io::Interest::READABLE, &mut read),
            Self::Unix(stream) => stream.try_io(tokio::io::Interest::READABLE, &mut read),
        };
        if tried.get() { through_reactor } else { read() }
    }

    fn try_write(&self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(stream) => stream.try_write(bytes),
            Self::Unix(stream) => stream.try_write(bytes),
        }
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(stream) => Pin::new(stream).poll_read(cx, buf),
            Self::Unix(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(stream) => Pin::new(stream).poll_write(cx, buf),
            Self::Unix(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(stream) => Pin::new(stream).poll_flush(cx),
            Self::Unix(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(stream) => Pin::new(stream).poll_shutdown(cx),
            Self::Unix(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}

/// The socket lent to tokio-postgres for the startup and taken back after it.
#[derive(Debug, Clone)]
struct Handoff(Arc<Mutex<Option<Socket>>>);

impl Handoff {
    fn take_back(&self) -> Option<Socket> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn with<R>(
        &self,
        use_socket: impl FnOnce(Pin<&mut Socket>) -> Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        let mut socket = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match socket.as_mut() {
            Some(socket) => use_socket(Pin::new(socket)),
            None => Poll::Ready(Err(io::Error::other("the socket was taken back"))),
        }
    }
}

impl AsyncRead for Handoff {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.with(|socket| socket.poll_read(cx, buf))
    }
}

impl AsyncWrite for Handoff {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.with(|socket| socket.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|socket| socket.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|socket| socket.poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_tag_gives_its_row_count() {
        assert_eq!(rows_of("UPDATE 3"), 3);
        assert_eq!(rows_of("INSERT 0 1"), 1);
        assert_eq!(rows_of("SELECT 0"), 0);
        assert_eq!(rows_of("BEGIN"), 0);
    }
}
