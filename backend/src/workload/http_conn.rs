//! One virtual user's connection to a service: HTTP/1.1 over TCP (TLS through rustls for
//! `https`), kept alive across the user's requests as a browser keeps its own, and requests made
//! ready once (method, path, headers, body) so that sending one costs little more than writing
//! it. A connection the service closed is opened again, and a request that failed on a reused
//! connection is tried once more on a new one, as browsers do.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Where a service is, made ready to connect to.
#[derive(Clone)]
pub struct Endpoint {
    host: String,
    port: u16,
    /// `Host` header.
    authority: HeaderValue,
    /// The base URL's own path (`/api`), put in front of every request's.
    base_path: String,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    timeout: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// A request made ready: everything but the connection.
#[derive(Debug, Clone)]
pub struct Prepared {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

/// A request's answer: status and body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("timed out after {0:?}")]
    TimedOut(Duration),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("the connection failed: {0}")]
    Broken(String),
}

impl Endpoint {
    /// `base_url`'s host and port, with TLS for `https` (the webpki roots and `extra_ca`).
    pub fn new(
        base_url: &reqwest::Url,
        timeout: Duration,
        extra_ca: Option<&[u8]>,
    ) -> Result<Self, String> {
        let host = base_url
            .host_str()
            .ok_or("the base URL has no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = base_url
            .port_or_known_default()
            .ok_or("the base URL has no port")?;
        let authority = match base_url.port() {
            Some(port) => format!("{}:{port}", base_url.host_str().unwrap_or_default()),
            None => base_url.host_str().unwrap_or_default().to_owned(),
        };
        let tls = (base_url.scheme() == "https")
            .then(|| tls_connector(&host, extra_ca))
            .transpose()?;
        Ok(Self {
            host,
            port,
            authority: HeaderValue::from_str(&authority).map_err(|e| e.to_string())?,
            base_path: base_url.path().trim_end_matches('/').to_owned(),
            tls,
            timeout,
        })
    }

    /// A request of `method` to `path` (below the base URL's path) with `headers` and `body`.
    pub fn prepare(
        &self,
        method: Method,
        path: &str,
        headers: &[(String, String)],
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Result<Prepared, String> {
        let uri: Uri = format!("{}{path}", self.base_path)
            .parse()
            .map_err(|e| format!("the path `{path}`: {e}"))?;
        let mut prepared_headers = HeaderMap::new();
        prepared_headers.insert(HOST, self.authority.clone());
        for (name, value) in headers {
            prepared_headers.insert(
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|e| format!("the header `{name}`: {e}"))?,
                HeaderValue::from_str(value).map_err(|e| format!("the header `{name}`: {e}"))?,
            );
        }
        let body = match body {
            Some((content_type, bytes)) => {
                prepared_headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
                Bytes::from(bytes)
            }
            None => Bytes::new(),
        };
        Ok(Prepared {
            method,
            uri,
            headers: prepared_headers,
            body,
        })
    }

    /// Opens a connection.
    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, SendError> {
        let stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| SendError::Connect(e.to_string()))?;
        let _latency_first = stream.set_nodelay(true);
        match &self.tls {
            None => handshake(TokioIo::new(stream)).await,
            Some((connector, name)) => {
                let stream = connector
                    .connect(name.clone(), stream)
                    .await
                    .map_err(|e| SendError::Connect(format!("TLS: {e}")))?;
                handshake(TokioIo::new(stream)).await
            }
        }
    }
}

async fn handshake<T>(io: T) -> Result<SendRequest<Full<Bytes>>, SendError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| SendError::Connect(e.to_string()))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "service connection ended");
        }
    });
    Ok(sender)
}

fn tls_connector(
    host: &str,
    extra_ca: Option<&[u8]>,
) -> Result<(TlsConnector, ServerName<'static>), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = extra_ca {
        for certificate in pem_certificates(pem)? {
            roots
                .add(certificate)
                .map_err(|e| format!("the extra CA: {e}"))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
    Ok((TlsConnector::from(Arc::new(config)), name))
}

/// The certificates of a PEM file.
fn pem_certificates(pem: &[u8]) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, String> {
    use rustls_pki_types::pem::PemObject as _;
    rustls_pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the extra CA is not PEM: {e}"))
}

/// A virtual user's connection: opened on first use, kept alive, opened again when it broke.
#[derive(Debug, Default)]
pub struct Connection {
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    /// Sends `request` and reads its answer whole, within the endpoint's timeout.
    pub async fn send(
        &mut self,
        endpoint: &Endpoint,
        request: &Prepared,
    ) -> Result<Answer, SendError> {
        match tokio::time::timeout(endpoint.timeout, self.send_untimed(endpoint, request)).await {
            Ok(answer) => answer,
            Err(_elapsed) => {
                // The connection may still carry the late answer: never reuse it.
                self.sender = None;
                Err(SendError::TimedOut(endpoint.timeout))
            }
        }
    }

    async fn send_untimed(
        &mut self,
        endpoint: &Endpoint,
        request: &Prepared,
    ) -> Result<Answer, SendError> {
        let reused = self.sender.is_some();
        match self.try_send(endpoint, request).await {
            Err(SendError::Broken(_)) if reused => {
                // The service closed a kept-alive connection between two requests: a new one.
                self.sender = None;
                self.try_send(endpoint, request).await
            }
            other => other,
        }
    }

    async fn try_send(
        &mut self,
        endpoint: &Endpoint,
        request: &Prepared,
    ) -> Result<Answer, SendError> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            self.sender = Some(endpoint.connect().await?);
        }
        let Some(sender) = self.sender.as_mut() else {
            return Err(SendError::Broken("no connection".into()));
        };
        let broken = |e: hyper::Error| SendError::Broken(e.to_string());
        let mut message = Request::new(Full::new(request.body.clone()));
        *message.method_mut() = request.method.clone();
        *message.uri_mut() = request.uri.clone();
        *message.headers_mut() = request.headers.clone();
        let outcome = async {
            sender.ready().await.map_err(broken)?;
            let response = sender.send_request(message).await.map_err(broken)?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(broken)?
                .to_bytes();
            Ok(Answer { status, body })
        }
        .await;
        if outcome.is_err() {
            self.sender = None;
        }
        outcome
    }
}
