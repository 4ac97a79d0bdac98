//! Talking to the lifeguard API: the only module that knows URLs.
//!
//! Each request carries an abort signal; dropping the request's future (its view went away, or a
//! newer request replaced it) aborts the fetch instead of letting it finish unseen.
//!
//! A page opened with `?token=T` (an operator or viewer token) or `?share=S` (a read-only share
//! link) passes them on to every API call, including the event stream and export links, for as
//! long as the page lives: they are remembered when first seen, since in-app navigation drops
//! them from the address bar.

use std::cell::RefCell;
use std::fmt::{self, Write as _};

use gloo_net::http::{Request, RequestBuilder};
use lifeguard_shared::compare::Comparison;
use lifeguard_shared::error::ErrorBody;
use lifeguard_shared::health::ProbeReport;
use lifeguard_shared::history::History;
use lifeguard_shared::metric::Metric;
use lifeguard_shared::pool::PoolProfile;
use lifeguard_shared::run::{
    Baseline, LatencyDistribution, Me, RunCreated, RunDetail, RunPage, RunRequest, Series,
    SetBaseline, ShareLink, ShareRequest, TargetInfo,
};
use lifeguard_shared::suite::Levels;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Why an API call gave no data, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiFailure {
    /// No answer at all: the console is down or the network is.
    Unreachable(String),
    /// The API answered with an error body.
    Api { status: u16, body: ErrorBody },
    /// The API answered something this page does not understand (version mismatch?).
    Unexpected(String),
}

impl ApiFailure {
    /// The API said the thing asked for does not exist.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api { status: 404, .. })
    }
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable(detail) => write!(
                f,
                "The lifeguard console does not answer — is it running? ({detail})"
            ),
            Self::Api { status: 401, body } if body.message.contains("expired") => write!(
                f,
                "This link has expired ({}). Ask whoever shared it for a new one.",
                body.message
            ),
            Self::Api {
                status: 401 | 403,
                body,
            } => write!(
                f,
                "This view needs a token or a valid share link: {}.",
                body.message
            ),
            Self::Api { body, .. } => write!(f, "{}", body.message),
            Self::Unexpected(detail) => {
                write!(
                    f,
                    "The console sent an answer this page cannot read: {detail}"
                )
            }
        }
    }
}

impl std::error::Error for ApiFailure {}

/// A token and a share link to pass on, as found in the page's address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub token: Option<String>,
    pub share: Option<String>,
}

impl Credentials {
    /// `url` with `token` and `share` appended to its query.
    #[must_use]
    pub fn apply(&self, url: &str) -> String {
        let mut url = url.to_owned();
        for (key, value) in [("token", &self.token), ("share", &self.share)] {
            if let Some(value) = value {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(key);
                url.push('=');
                url.push_str(&encode(value));
            }
        }
        url
    }
}

thread_local! {
    static REMEMBERED: RefCell<Credentials> = RefCell::new(Credentials::default());
}

/// The credentials of the current address, else the ones seen earlier on this page.
fn credentials() -> Credentials {
    let found = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .and_then(|search| web_sys::UrlSearchParams::new_with_str(&search).ok())
        .map(|params| Credentials {
            token: params.get("token").filter(|t| !t.is_empty()),
            share: params.get("share").filter(|s| !s.is_empty()),
        })
        .unwrap_or_default();
    REMEMBERED.with(|remembered| {
        let mut remembered = remembered.borrow_mut();
        if found.token.is_some() {
            remembered.token.clone_from(&found.token);
        }
        if found.share.is_some() {
            remembered.share.clone_from(&found.share);
        }
        remembered.clone()
    })
}

/// `address` without its `token` query parameter (every other parameter kept, in order).
#[must_use]
pub fn without_token(address: &str) -> String {
    let (before_fragment, fragment) = match address.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (address, None),
    };
    let mut kept = match before_fragment.split_once('?') {
        Some((path, query)) => {
            let rest: Vec<&str> = query
                .split('&')
                .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("token"))
                .collect();
            if rest.is_empty() {
                path.to_owned()
            } else {
                format!("{path}?{}", rest.join("&"))
            }
        }
        None => before_fragment.to_owned(),
    };
    if let Some(fragment) = fragment {
        kept.push('#');
        kept.push_str(fragment);
    }
    kept
}

/// `url` as the API should be called from this page (with the page's token or share link).
fn authorised(url: &str) -> String {
    credentials().apply(url)
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
#[must_use]
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            let _infallible = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// `path?key=value&…` for the pairs whose value is present and not empty.
#[must_use]
pub fn with_query(path: &str, pairs: &[(&str, Option<String>)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter_map(|(key, value)| {
            value
                .as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| format!("{key}={}", encode(v)))
        })
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// Filters of the run list; also the `/runs` page's query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    pub target: Option<String>,
    pub environment: Option<String>,
    pub phase: Option<String>,
    pub state: Option<String>,
    pub offset: u64,
    pub limit: u64,
}

impl RunFilter {
    /// The filter's query pairs (without paging when on the first page).
    #[must_use]
    pub fn pairs(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("target", self.target.clone()),
            ("environment", self.environment.clone()),
            ("phase", self.phase.clone()),
            ("state", self.state.clone()),
            ("offset", (self.offset > 0).then(|| self.offset.to_string())),
        ]
    }

    fn api_url(&self) -> String {
        let mut pairs = self.pairs();
        pairs.push(("limit", Some(self.limit.max(1).to_string())));
        with_query("/api/runs", &pairs)
    }
}

/// Which history to show; also the `/history` page's query string. Empty values are left out
/// (an environment left out is the runs without one; a suite left out is the newest run's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    pub target: Option<String>,
    pub environment: Option<String>,
    pub suite: Option<String>,
    pub profile: Option<String>,
    pub metric: Option<Metric>,
    pub scenario: Option<String>,
}

impl HistoryFilter {
    /// The filter's query pairs, in the order the page's pickers show them.
    #[must_use]
    pub fn pairs(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("target", self.target.clone()),
            ("environment", self.environment.clone()),
            ("suite", self.suite.clone()),
            ("profile", self.profile.clone()),
            ("metric", self.metric.map(|m| m.name().to_owned())),
            ("scenario", self.scenario.clone()),
        ]
    }

    /// `GET /api/history` for this filter, reading the newest `limit` runs when given.
    fn api_url(&self, limit: Option<u64>) -> String {
        let mut pairs = self.pairs();
        pairs.push(("limit", limit.map(|l| l.to_string())));
        with_query("/api/history", &pairs)
    }
}

/// Which two runs to compare: two run ids, or a baseline by name and a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompareSpec {
    Runs { base: String, head: String },
    Baseline { name: String, head: String },
}

impl CompareSpec {
    fn api_url(&self, format: Option<&str>) -> String {
        let format = format.map(str::to_owned);
        match self {
            Self::Runs { base, head } => with_query(
                "/api/compare",
                &[
                    ("base", Some(base.clone())),
                    ("head", Some(head.clone())),
                    ("format", format),
                ],
            ),
            Self::Baseline { name, head } => with_query(
                "/api/compare",
                &[
                    ("baseline", Some(name.clone())),
                    ("head", Some(head.clone())),
                    ("format", format),
                ],
            ),
        }
    }
}

/// What the caller may do.
pub async fn me() -> Result<Me, ApiFailure> {
    get_json("/api/me").await
}

/// Measures a target now (`GET /api/probe`).
pub async fn probe() -> Result<ProbeReport, ApiFailure> {
    get_json("/api/probe").await
}

pub async fn targets() -> Result<Vec<TargetInfo>, ApiFailure> {
    get_json("/api/targets").await
}

/// What the console shows of a suite. `/api/suites` answers full
/// [`Suite`](lifeguard_shared::suite::Suite)s; reading only these fields keeps the suite's
/// validation and every load shape's decoder out of the wasm (9 KB of its gzipped size).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SuiteOutline {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub scenarios: Vec<ScenarioOutline>,
    pub thresholds: ThresholdsOutline,
}

/// A scenario's name and the success rate it must reach.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ScenarioOutline {
    pub name: String,
    pub min_success_rate: f64,
}

/// The one threshold the live pool chart draws.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct ThresholdsOutline {
    pub pool_utilization_pct: Levels,
}

pub async fn suites() -> Result<Vec<SuiteOutline>, ApiFailure> {
    get_json("/api/suites").await
}

pub async fn profiles() -> Result<Vec<PoolProfile>, ApiFailure> {
    get_json("/api/profiles").await
}

/// Queues a run; the answer carries its id.
pub async fn create_run(request: &RunRequest) -> Result<RunCreated, ApiFailure> {
    send_json(Request::post(&authorised("/api/runs")), Some(request)).await
}

/// Starts a sizing; the answer carries its id.
pub async fn create_sizing(
    request: &lifeguard_shared::sizing::SizingRequest,
) -> Result<RunCreated, ApiFailure> {
    send_json(Request::post(&authorised("/api/sizings")), Some(request)).await
}

/// A page of runs, newest first.
pub async fn runs(filter: &RunFilter) -> Result<RunPage, ApiFailure> {
    get_json(&filter.api_url()).await
}

pub async fn run(id: &str) -> Result<RunDetail, ApiFailure> {
    get_json(&format!("/api/runs/{}", encode(id))).await
}

/// Asks a queued or running run (`what` = `runs`) or a running sizing (`sizings`) to stop; what
/// it measured stays.
pub async fn cancel(what: &str, id: &str) -> Result<RunCreated, ApiFailure> {
    let url = authorised(&format!("/api/{what}/{}/cancel", encode(id)));
    send_json::<(), _>(Request::post(&url), None).await
}

/// The run's per-second rows (downsampled by the API for long runs).
pub async fn series(id: &str) -> Result<Series, ApiFailure> {
    get_json(&format!("/api/runs/{}/series", encode(id))).await
}

/// Each phase's latency percentile curve.
pub async fn histograms(id: &str) -> Result<LatencyDistribution, ApiFailure> {
    get_json(&format!("/api/runs/{}/histograms", encode(id))).await
}

pub async fn baselines() -> Result<Vec<Baseline>, ApiFailure> {
    get_json("/api/baselines").await
}

/// Points the baseline `name` at `run_id`.
pub async fn set_baseline(name: &str, run_id: &str) -> Result<Baseline, ApiFailure> {
    let url = authorised(&format!("/api/baselines/{}", encode(name)));
    let body = SetBaseline {
        run_id: run_id.to_owned(),
    };
    send_json(Request::put(&url), Some(&body)).await
}

/// A metric's history with its change points; `limit` reads only the newest runs.
pub async fn history(filter: &HistoryFilter, limit: Option<u64>) -> Result<History, ApiFailure> {
    get_json(&filter.api_url(limit)).await
}

pub async fn compare(spec: &CompareSpec) -> Result<Comparison, ApiFailure> {
    get_json(&spec.api_url(None)).await
}

/// A signed read-only link to a run or a comparison.
pub async fn share(request: &ShareRequest) -> Result<ShareLink, ApiFailure> {
    send_json(Request::post(&authorised("/api/share")), Some(request)).await
}

/// A sizing as far as it got.
pub async fn sizing(id: &str) -> Result<lifeguard_shared::sizing::SizingDetail, ApiFailure> {
    get_json(&format!("/api/sizings/{}", encode(id))).await
}

/// The scheduled regression runs with their recent firings.
/// Every monitor as it stands.
pub async fn monitors() -> Result<Vec<lifeguard_shared::monitor::MonitorStatus>, ApiFailure> {
    get_json("/api/monitors").await
}

/// A monitor's samples over `[from_ms, to_ms)`.
pub async fn monitor_history(
    target: &str,
    from_ms: u64,
    to_ms: u64,
) -> Result<lifeguard_shared::monitor::MonitorHistory, ApiFailure> {
    get_json(&format!(
        "/api/monitors/{}/samples?from_ms={from_ms}&to_ms={to_ms}",
        encode(target)
    ))
    .await
}

/// The live stream of a target's monitor.
#[must_use]
pub fn monitor_live_url(target: &str) -> String {
    authorised(&format!("/api/monitors/{}/live", encode(target)))
}

/// A target's alerts, newest first.
pub async fn alerts(target: &str) -> Result<Vec<lifeguard_shared::monitor::Alert>, ApiFailure> {
    get_json(&format!("/api/alerts?target={}&limit=200", encode(target))).await
}

/// A target's deployments, newest first.
pub async fn deployments(
    target: &str,
) -> Result<Vec<lifeguard_shared::monitor::Deployment>, ApiFailure> {
    get_json(&format!(
        "/api/deployments?target={}&limit=200",
        encode(target)
    ))
    .await
}

/// Deployment `id` judged by `window_s` of traffic either side.
pub async fn deployment_comparison(
    id: &str,
    window_s: u64,
) -> Result<lifeguard_shared::monitor::DeploymentComparison, ApiFailure> {
    get_json(&format!(
        "/api/deployments/{}/comparison?window_s={window_s}",
        encode(id)
    ))
    .await
}

pub async fn schedules() -> Result<Vec<lifeguard_shared::schedule::ScheduleStatus>, ApiFailure> {
    get_json("/api/schedules").await
}

/// Where the run's export downloads from (`json` or `csv`).
#[must_use]
pub fn export_url(id: &str, format: &str) -> String {
    authorised(&with_query(
        &format!("/api/runs/{}/export", encode(id)),
        &[("format", Some(format.to_owned()))],
    ))
}

/// Where the comparison's CSV table downloads from.
#[must_use]
pub fn compare_csv_url(spec: &CompareSpec) -> String {
    authorised(&spec.api_url(Some("csv")))
}

/// The run's Server-Sent Events stream (`EventSource` cannot send headers: tokens go in the query).
#[must_use]
pub fn events_url(id: &str) -> String {
    authorised(&format!("/api/runs/{}/events", encode(id)))
}

/// `path` as a full address on this console, for links a person copies.
#[must_use]
pub fn absolute(path: &str) -> String {
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    format!("{origin}{path}")
}

async fn get_json<T: DeserializeOwned>(url: &str) -> Result<T, ApiFailure> {
    send_json::<(), T>(Request::get(&authorised(url)), None).await
}

async fn send_json<B: Serialize, T: DeserializeOwned>(
    request: RequestBuilder,
    body: Option<&B>,
) -> Result<T, ApiFailure> {
    let body = body
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| ApiFailure::Unexpected(e.to_string()))?;
    let text = exchange(request, body).await?;
    serde_json::from_str(&text).map_err(|e| ApiFailure::Unexpected(e.to_string()))
}

/// Sends `request` (with `body` as JSON, if any) and reads a successful answer's text.
///
/// Not generic, unlike its callers: one copy of the fetch and its error handling in the wasm
/// instead of one per answer type (only the decoding differs).
async fn exchange(request: RequestBuilder, body: Option<String>) -> Result<String, ApiFailure> {
    let abort = AbortOnDrop::new();
    let request = request.abort_signal(abort.signal().as_ref());
    let request = match body {
        Some(body) => request
            .header("Content-Type", "application/json")
            .body(body),
        None => request.build(),
    }
    .map_err(|e| ApiFailure::Unexpected(e.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|e| ApiFailure::Unreachable(e.to_string()))?;
    if response.ok() {
        return response
            .text()
            .await
            .map_err(|e| ApiFailure::Unexpected(e.to_string()));
    }
    let status = response.status();
    match response.json::<ErrorBody>().await {
        Ok(body) => Err(ApiFailure::Api { status, body }),
        Err(_) => Err(ApiFailure::Unexpected(format!(
            "HTTP {status} {}",
            response.status_text()
        ))),
    }
}

/// Aborts its fetch when dropped before the fetch completed.
struct AbortOnDrop(Option<web_sys::AbortController>);

impl AbortOnDrop {
    fn new() -> Self {
        Self(web_sys::AbortController::new().ok())
    }

    fn signal(&self) -> Option<web_sys::AbortSignal> {
        self.0.as_ref().map(web_sys::AbortController::signal)
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(controller) = &self.0 {
            controller.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("a b/c&d"), "a%20b%2Fc%26d");
        assert_eq!(encode("abc-1.2_~"), "abc-1.2_~");
    }

    #[test]
    fn empty_filters_leave_the_query_out() {
        let filter = RunFilter {
            target: Some("sandbox".into()),
            environment: Some(String::new()),
            limit: 20,
            ..RunFilter::default()
        };
        assert_eq!(filter.api_url(), "/api/runs?target=sandbox&limit=20");
        let paged = RunFilter {
            offset: 40,
            phase: Some("pre-deploy".into()),
            ..filter
        };
        assert_eq!(
            paged.api_url(),
            "/api/runs?target=sandbox&phase=pre-deploy&offset=40&limit=20"
        );
    }

    #[test]
    fn a_copied_address_carries_no_token() {
        assert_eq!(
            without_token("http://h/runs?token=a%2Bb&environment=staging#top"),
            "http://h/runs?environment=staging#top"
        );
        assert_eq!(
            without_token("http://h/compare/a/b?share=x.y&token=t"),
            "http://h/compare/a/b?share=x.y"
        );
        assert_eq!(without_token("http://h/?token=t"), "http://h/");
        assert_eq!(without_token("http://h/runs"), "http://h/runs");
        assert_eq!(
            without_token("http://h/runs?tokens=1"),
            "http://h/runs?tokens=1"
        );
    }

    #[test]
    fn credentials_are_appended_to_any_url() {
        let credentials = Credentials {
            token: Some("t 1".into()),
            share: Some("abc.def".into()),
        };
        assert_eq!(
            credentials.apply("/api/runs?limit=5"),
            "/api/runs?limit=5&token=t%201&share=abc.def"
        );
        assert_eq!(Credentials::default().apply("/api/me"), "/api/me");
    }

    #[test]
    fn a_history_filter_names_the_metric_as_the_api_spells_it() {
        let filter = HistoryFilter {
            target: Some("sandbox".into()),
            environment: Some("pre prod".into()),
            suite: None,
            profile: Some(String::new()),
            metric: Some(Metric::MeanLatencyMs),
            scenario: Some("light".into()),
        };
        assert_eq!(
            filter.api_url(Some(2)),
            "/api/history?target=sandbox&environment=pre%20prod&metric=mean_latency_ms\
             &scenario=light&limit=2"
        );
    }

    #[test]
    fn comparisons_name_base_or_baseline() {
        let by_runs = CompareSpec::Runs {
            base: "a".into(),
            head: "b".into(),
        };
        assert_eq!(by_runs.api_url(None), "/api/compare?base=a&head=b");
        let by_name = CompareSpec::Baseline {
            name: "prod".into(),
            head: "b".into(),
        };
        assert_eq!(
            by_name.api_url(Some("csv")),
            "/api/compare?baseline=prod&head=b&format=csv"
        );
    }

    #[test]
    fn an_expired_link_says_so_in_plain_words() {
        let failure = ApiFailure::Api {
            status: 401,
            body: ErrorBody {
                code: "unauthorized".into(),
                message: "the share link has expired".into(),
            },
        };
        assert!(failure.to_string().starts_with("This link has expired"));
        assert!(
            ApiFailure::Api {
                status: 404,
                body: ErrorBody {
                    code: "not_found".into(),
                    message: "no run `x`".into()
                }
            }
            .is_not_found()
        );
    }

    #[test]
    fn a_suite_as_the_api_sends_it_reads_as_its_outline() {
        let suite = lifeguard_shared::suite::Suite::auth_burst();
        let json = serde_json::to_string(&vec![suite.clone()]).unwrap();
        let outlines: Vec<SuiteOutline> = serde_json::from_str(&json).unwrap();
        let outline = &outlines[0];
        assert_eq!(outline.name, suite.name);
        assert_eq!(outline.description, suite.description);
        let scenarios: Vec<(&str, f64)> = outline
            .scenarios
            .iter()
            .map(|s| (s.name.as_str(), s.min_success_rate))
            .collect();
        let expected: Vec<(&str, f64)> = suite
            .scenarios
            .iter()
            .map(|s| (s.name.as_str(), s.min_success_rate))
            .collect();
        assert_eq!(scenarios, expected);
        assert_eq!(
            outline.thresholds.pool_utilization_pct,
            suite.thresholds.pool_utilization_pct
        );
    }
}
