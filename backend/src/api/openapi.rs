//! `GET /api/openapi.json`: the OpenAPI 3.1 document of this API.

use axum::Json;
use serde_json::{Value, json};

/// Every route: method, path, summary, who may call it, success status.
pub const ROUTES: &[(&str, &str, &str, &str, u16)] = &[
    ("get", "/api/health", "Liveness and version", "anyone", 200),
    (
        "get",
        "/api/probe",
        "Measure a target now (?target=NAME)",
        "viewer",
        200,
    ),
    (
        "get",
        "/api/me",
        "The caller's role and whether the console is in local mode",
        "anyone",
        200,
    ),
    (
        "get",
        "/api/targets",
        "Targets by name (never credentials)",
        "viewer",
        200,
    ),
    (
        "get",
        "/api/suites",
        "Suites: scenarios, criteria, thresholds",
        "viewer",
        200,
    ),
    ("get", "/api/profiles", "Pool profiles", "viewer", 200),
    (
        "post",
        "/api/runs",
        "Queue a run: {target, suite, profile, labels, workload, adjust?} (adjust: {pool_size, \
         max_overflow, pool_timeout_s, load_factor}, a sizing point)",
        "operator",
        202,
    ),
    (
        "get",
        "/api/runs",
        "List runs (?target&environment&phase&state&offset&limit), newest first",
        "viewer",
        200,
    ),
    (
        "get",
        "/api/runs/{id}",
        "A run: labels, state, report",
        "viewer or share link",
        200,
    ),
    (
        "post",
        "/api/sizings",
        "Start a sizing sweep: {target, suite, profile, labels, workload, headroom, \
         pool_timeout_s, max_points, base_concurrency}",
        "operator",
        202,
    ),
    (
        "get",
        "/api/sizings/{id}",
        "A sizing as far as it got: state, points (each a run), recommendation",
        "viewer",
        200,
    ),
    (
        "post",
        "/api/sizings/{id}/cancel",
        "Stop a sizing; its measured points stay",
        "operator",
        202,
    ),
    (
        "post",
        "/api/runs/{id}/cancel",
        "Cancel a queued or running run",
        "operator",
        202,
    ),
    (
        "get",
        "/api/runs/{id}/series",
        "Per-second series, downsampled (?max_points)",
        "viewer or share link",
        200,
    ),
    (
        "get",
        "/api/runs/{id}/histograms",
        "Latency percentile curve per phase",
        "viewer or share link",
        200,
    ),
    (
        "get",
        "/api/runs/{id}/events",
        "Server-Sent Events: state, phase, progress, verdict; resumes after Last-Event-ID",
        "viewer or share link",
        200,
    ),
    (
        "get",
        "/api/runs/{id}/export",
        "The run as JSON or its series as CSV (?format)",
        "viewer or share link",
        200,
    ),
    (
        "get",
        "/api/baselines",
        "Baselines with their history",
        "viewer",
        200,
    ),
    (
        "get",
        "/api/baselines/{name}",
        "One baseline",
        "viewer",
        200,
    ),
    (
        "put",
        "/api/baselines/{name}",
        "Point a baseline at a finished run: {run_id}",
        "operator",
        200,
    ),
    (
        "get",
        "/api/compare",
        "Compare ?base=ID or ?baseline=NAME with ?head=ID (&format=csv)",
        "viewer or share link",
        200,
    ),
    (
        "get",
        "/api/history",
        "A metric across a target's finished runs of one suite, oldest first, baseline runs \
         marked, with its change points (?target&environment&metric&scenario; optional suite \
         (default: the newest run's), profile, limit, max_p_value, min_change, min_segment)",
        "viewer",
        200,
    ),
    (
        "get",
        "/api/schedules",
        "Scheduled regression runs: cron, target, suite, profile, baseline, next fire time and \
         recent firings with their verdict against the baseline",
        "viewer",
        200,
    ),
    (
        "get",
        "/api/monitors",
        "Targets watched between tests: the level each stands at, its latest sample (backends by \
         state, application and role, idle in transaction and its age, waits, churn), its rules, \
         standing and latest alerts",
        "viewer",
        200,
    ),
    (
        "get",
        "/api/monitors/{target}/samples",
        "A monitor's samples over ?from_ms&to_ms (default the last 15 minutes): raw where kept, \
         one-minute min/mean/max per metric before",
        "viewer",
        200,
    ),
    (
        "get",
        "/api/monitors/{target}/live",
        "Server-Sent Events: `sample` as each is taken (id: its time), `alert` as one fires, \
         changes level or resolves; after Last-Event-ID, what was missed first; `lagged` when \
         that is too much (reload the range)",
        "viewer",
        200,
    ),
    (
        "get",
        "/api/alerts",
        "The alert history, newest first (?target&open=true&limit)",
        "viewer",
        200,
    ),
    (
        "post",
        "/api/deployments",
        "Mark a deployment {target, version, notes?, at_ms?}: 201 with it",
        "operator",
        201,
    ),
    (
        "get",
        "/api/deployments",
        "Deployments, newest first (?target&limit)",
        "viewer",
        200,
    ),
    (
        "get",
        "/api/deployments/{id}/comparison",
        "The monitor's samples after the deployment against as long a window before \
         (?window_s, default 1800): per metric the means, each sample a block of the test, the \
         verdict words of two runs",
        "viewer",
        200,
    ),
    (
        "post",
        "/api/share",
        "A signed read-only link: {run} or {base, head}, optional expires_in_s",
        "viewer",
        200,
    ),
    ("get", "/api/openapi.json", "This document", "anyone", 200),
];

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

/// The document, built from [`ROUTES`].
#[must_use]
pub fn build() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, summary, who, status) in ROUTES {
        let parameters: Vec<Value> = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let operation = json!({
            "summary": summary,
            "description": format!("Who may call it: {who}."),
            "parameters": parameters,
            "responses": {
                status.to_string(): { "description": "Success" },
                "401": error_response("No or unknown token"),
                "403": error_response("The token or share link does not allow this"),
                "404": error_response("Unknown id or name"),
                "413": error_response("Body larger than 64 KiB"),
                "414": error_response("Address longer than 8 KiB"),
                "421": error_response("Local mode: the Host header is not a loopback name"),
                "422": error_response("Invalid input; the message names the field and the rule"),
                "429": error_response("The target's queue is full (Retry-After); nothing was stored"),
                "503": error_response("Too many live streams (Retry-After)"),
            }
        });
        let entry = paths
            .entry((*path).to_owned())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Value::Object(methods) = entry {
            methods.insert((*method).to_owned(), operation);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "lifeguard",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Validates PostgreSQL connection pools against authentication bursts.",
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": { "code": { "type": "string" }, "message": { "type": "string" } }
                }
            }
        },
        "security": [ { "bearer": [] } ],
        "paths": paths,
    })
}

/// `GET /api/openapi.json`.
pub async fn document() -> Json<Value> {
    Json(build())
}
