//! The console over real HTTP, with its own sandbox PostgreSQL.

use lifeguard_shared::health::{Health, ProbeReport};
use lifeguard_tests::{spawn_app, spawn_app_with};

#[tokio::test]
async fn health_answers_ok_with_the_version() {
    let app = spawn_app().await.unwrap();
    let health: Health = app.get_json("/api/health").await.unwrap();
    assert_eq!(health.status, "ok");
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_probe_reports_what_the_sandbox_really_is() {
    let app = spawn_app_with(|config| config.sandbox.max_connections = 42)
        .await
        .unwrap();
    let probe: ProbeReport = app.get_json("/api/probe").await.unwrap();
    assert_eq!(probe.target, "sandbox");
    assert_eq!(probe.max_connections, 42);
    assert!(
        probe
            .server_version
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit()),
        "{}",
        probe.server_version
    );
    assert!(probe.connected_backends >= 1);
    assert_eq!(probe.connect_ms.len(), 5);
    assert_eq!(probe.round_trip_ms.len(), 20);
    assert!(probe.connect_ms.iter().all(|ms| *ms > 0.0 && *ms < 5_000.0));
    assert!(probe.round_trip_ms.iter().all(|ms| *ms > 0.0));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_unknown_api_route_is_a_json_404() {
    let app = spawn_app().await.unwrap();
    let (status, body) = app.get_error("/api/no-such-thing").await.unwrap();
    assert_eq!(status, 404);
    assert_eq!(body["code"], "not_found");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_deep_link_is_answered_with_the_frontend() {
    let app = spawn_app().await.unwrap();
    let (status, body) = app.get("/runs/123").await.unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("<title>lifeguard</title>"), "{body}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn echarts_is_served_by_the_console_itself() {
    let app = spawn_app().await.unwrap();
    let (_, index) = app.get("/").await.unwrap();
    let script = index
        .split('"')
        .find(|part| part.starts_with("/echarts") && part.contains(".min"))
        .unwrap_or_else(|| panic!("no echarts script in {index}"));
    assert!(
        script.starts_with('/'),
        "ECharts must come from the console: {script}"
    );
    assert!(
        !index.contains("https://"),
        "the page loads something remote: {index}"
    );
    let (status, body) = app.get(script).await.unwrap();
    assert_eq!(status, 200);
    assert!(body.len() > 500_000, "ECharts is {} bytes", body.len());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_target_password_never_appears_in_responses() {
    let app = spawn_app().await.unwrap();
    for path in ["/api/health", "/api/probe", "/api/no-such-thing", "/"] {
        let (_, body) = app.get(path).await.unwrap();
        assert!(
            !body.contains(&app.target_password),
            "{path} leaks the password"
        );
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn stopping_the_console_stops_its_sandbox() {
    let app = spawn_app().await.unwrap();
    let probe: ProbeReport = app.get_json("/api/probe").await.unwrap();
    assert!(probe.max_connections > 0);
    let addr = app.addr;
    app.stop().await.unwrap();
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[tokio::test]
async fn the_frontend_is_served_gzipped_and_the_api_plain() {
    let app = spawn_app().await.unwrap();
    let wasm = std::fs::read_dir(lifeguard_tests::dist_dir())
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|e| e == "wasm"))
        .and_then(|path| Some(path.file_name()?.to_string_lossy().into_owned()))
        .expect("a built frontend (trunk build --release)");
    let http = reqwest::Client::new();
    let get = |path: String| {
        http.get(app.url(&path))
            .header("accept-encoding", "gzip")
            .send()
    };
    let response = get(format!("/{wasm}")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let precompressed = std::fs::read(lifeguard_tests::dist_dir().join(format!("{wasm}.gz")))
        .expect("the build's gzip -9 copy (Trunk.toml's post-build hook)");
    assert!(
        response.bytes().await.unwrap() == precompressed,
        "the wasm goes out as the build's gzip -9 copy"
    );
    let response = get("/api/health".into()).await.unwrap();
    assert!(response.headers().get("content-encoding").is_none());
    app.stop().await.unwrap();
}

/// Without `--frontend-dir` the console serves the build the binary carries (embedded in release
/// builds; read from the repository's `dist/` in the debug builds tests use): pages, deep links,
/// the wasm as its gzip -9 copy, and a 304 for what the browser already has.
#[tokio::test]
async fn without_a_frontend_dir_the_console_the_binary_carries_is_served() {
    assert!(
        lifeguard::api::embedded::available(),
        "no console in the binary: build the frontend first (trunk build --release)"
    );
    let app = spawn_app_with(|config| config.frontend_dir = None)
        .await
        .unwrap();
    let (status, index) = app.get("/").await.unwrap();
    assert_eq!(status, 200);
    assert!(index.contains("<title>lifeguard</title>"), "{index}");
    let (status, deep) = app.get("/compare/a/b?scenario=heavy").await.unwrap();
    assert_eq!((status, deep.as_str()), (200, index.as_str()));
    let wasm = index
        .split(['"', '\''])
        .find(|part| part.ends_with("_bg.wasm"))
        .unwrap_or_else(|| panic!("no wasm in {index}"))
        .to_owned();
    let http = reqwest::Client::new();
    let response = http
        .get(app.url(&wasm))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert_eq!(response.headers()["content-type"], "application/wasm");
    let etag = response.headers()["etag"].clone();
    let precompressed = std::fs::read(
        lifeguard_tests::dist_dir().join(format!("{}.gz", wasm.trim_start_matches('/'))),
    )
    .unwrap();
    assert!(response.bytes().await.unwrap() == precompressed);
    let plain = http.get(app.url(&wasm)).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(&plain.bytes().await.unwrap()[..4], b"\0asm");
    let again = http
        .get(app.url(&wasm))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    app.stop().await.unwrap();
}
