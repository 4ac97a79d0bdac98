//! The console's charts in headless Chromium on two stored one-hour runs. Build the frontend
//! first — the bench serves the built `dist/`, as the README's test command does:
//!
//! ```sh
//! trunk build --release
//! cargo bench -p lifeguard-tests --bench console_render
//! ```
//!
//! Two stored one-hour runs ([`lifeguard_tests::hour_runs`]) are served by a console without a
//! sandbox and opened in headless Chromium with the HTTP cache off, so every load is a first
//! visit.
//!
//! Each round loads, fresh: `/api/health` (a static JSON page: the reference for this machine's
//! speed), the not-found view (the console booting with no data to fetch), `/` (time to first
//! chart), and `/compare/base-hour/head-hour`. A script installed before any page script runs
//! (CDP `Page.addScriptToEvaluateOnNewDocument`) checks every animation frame for the first
//! `canvas` (or the start page's SVG sparkline) inside a `[data-chart]` element, for every chart having one, and for every chart
//! drawn with data (its ECharts instance has a series with points: the frontend sets no render
//! marker, so this is read from ECharts itself), and records `performance.now()` when each first
//! holds. The compare view's data has arrived at the last `/api/` response's `responseEnd`
//! (Resource Timing); the goal is that the view is drawn within 1 s of it.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use lifeguard_tests::{Browser, TestApp, dist_dir, spawn_app_with};
use serde::Deserialize;
use serde_json::{Value, json};

/// Fresh loads of each page.
const ROUNDS: usize = 5;
/// The issue's goal: the compare view is drawn within this long of its data arriving.
const GOAL_MS: f64 = 1000.0;
/// How long one page may take to show what is waited for.
const PAGE_TIMEOUT_MS: u32 = 20_000;
const COMPARE_PATH: &str = "/compare/base-hour/head-hour";

/// Runs at the start of every document, before the page's own scripts: records when the first
/// chart has a canvas, when every chart has one, when every chart is drawn with data, and when
/// the not-found view shows, checking once per animation frame.
const RECORDER: &str = r"
(() => {
  if (window.__lifeguardRender) { return; }
  const state = { firstCanvas: null, allCanvas: null, allDrawn: null, notFound: null, charts: 0 };
  window.__lifeguardRender = state;
  const drawn = (figure) => {
    const line = figure.querySelector('svg polyline');
    if (line) { return line.getAttribute('points') !== ''; }
    const element = figure.querySelector('.chart');
    if (!element || !element.querySelector('canvas') || !window.echarts) { return false; }
    const instance = window.echarts.getInstanceByDom(element);
    if (!instance) { return false; }
    const series = instance.getOption().series || [];
    return series.some((s) => Array.isArray(s.data) && s.data.length > 0);
  };
  const frame = () => {
    const now = performance.now();
    const figures = Array.from(document.querySelectorAll('[data-chart]'));
    const painted = figures.filter((f) => f.querySelector('canvas, svg') !== null).length;
    if (state.firstCanvas === null && painted > 0) { state.firstCanvas = now; }
    if (state.allCanvas === null && figures.length > 0 && painted === figures.length) {
      state.allCanvas = now;
    }
    if (state.allDrawn === null && figures.length > 0 && figures.every(drawn)) {
      state.allDrawn = now;
      state.charts = figures.length;
    }
    if (state.notFound === null && document.getElementById('not-found')) { state.notFound = now; }
    if (state.allDrawn === null && state.notFound === null && now < 60000) {
      requestAnimationFrame(frame);
    }
  };
  requestAnimationFrame(frame);
})();
";

/// Waits (a frame at a time) for what `arguments[0]` names — `drawn`, `not-found` or `paint` —
/// then returns the recorder's times with the page's navigation, paint and resource timings.
const COLLECT: &str = r"
const [want, timeoutMs] = arguments;
const done = arguments[arguments.length - 1];
const started = performance.now();
const ready = () => {
  const s = window.__lifeguardRender;
  if (want === 'drawn') { return s !== undefined && s.allDrawn !== null; }
  if (want === 'not-found') { return s !== undefined && s.notFound !== null; }
  return performance.getEntriesByName('first-contentful-paint').length > 0;
};
const report = () => {
  const s = window.__lifeguardRender || {};
  const resources = performance.getEntriesByType('resource');
  const navigation = performance.getEntriesByType('navigation')[0];
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  const wasm = resources.find((r) => new URL(r.name).pathname.endsWith('.wasm'));
  const code = resources.filter((r) => /\.(js|wasm)$/.test(new URL(r.name).pathname));
  done({
    firstCanvas: s.firstCanvas ?? null,
    allCanvas: s.allCanvas ?? null,
    allDrawn: s.allDrawn ?? null,
    notFound: s.notFound ?? null,
    charts: s.charts ?? 0,
    api: resources
      .filter((r) => new URL(r.name).pathname.startsWith('/api/'))
      .map((r) => {
        const url = new URL(r.name);
        return { path: url.pathname + url.search, start: r.startTime, end: r.responseEnd, bytes: r.encodedBodySize };
      }),
    wasmTransferred: wasm ? wasm.transferSize : null,
    codeBytes: code.reduce((sum, r) => sum + r.encodedBodySize, 0),
    documentEnd: navigation.responseEnd,
    loadEnd: navigation.loadEventEnd,
    firstContentfulPaint: paint ? paint.startTime : null,
  });
};
const poll = () => {
  if (ready() || performance.now() - started > timeoutMs) { report(); } else { requestAnimationFrame(poll); }
};
poll();
";

/// What [`COLLECT`] returns; times are milliseconds since the navigation started.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageTiming {
    first_canvas: Option<f64>,
    all_canvas: Option<f64>,
    all_drawn: Option<f64>,
    not_found: Option<f64>,
    /// How many charts were drawn when all were.
    charts: usize,
    api: Vec<ApiResponse>,
    /// Bytes of the wasm fetched over the network (0 would mean it came from a cache).
    wasm_transferred: Option<f64>,
    /// Body bytes of every script and wasm file the page fetched, as sent (gzip).
    code_bytes: f64,
    document_end: f64,
    load_end: f64,
    first_contentful_paint: Option<f64>,
}

/// One `/api/` request of the page, from Resource Timing.
#[derive(Debug, Deserialize)]
struct ApiResponse {
    path: String,
    start: f64,
    end: f64,
    /// Body bytes as sent (0 when the server sends no `Timing-Allow-Origin`; same origin here).
    bytes: f64,
}

impl PageTiming {
    /// When the page's last API response ended: its data has arrived.
    fn data_arrived(&self) -> anyhow::Result<f64> {
        self.api
            .iter()
            .map(|r| r.end)
            .max_by(f64::total_cmp)
            .context("the page made no /api/ request")
    }
}

/// Every round's figures, in milliseconds.
#[derive(Debug, Default)]
struct Figures {
    health_paint: Vec<f64>,
    not_found: Vec<f64>,
    home_first_chart: Vec<f64>,
    compare_data: Vec<f64>,
    compare_first_chart: Vec<f64>,
    compare_all_canvas_after_data: Vec<f64>,
    compare_drawn_after_data: Vec<f64>,
    compare_drawn: Vec<f64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dist = dist_dir();
    anyhow::ensure!(
        dist.join("index.html").is_file(),
        "no built frontend at {}: run `trunk build --release` first (see README, Tests)",
        dist.display()
    );
    print_dist_sizes(&dist)?;

    let data = tempfile::tempdir()?;
    println!("measuring two auth-sustained runs and storing them an hour long…");
    lifeguard_tests::hour_runs::store_two_hours(data.path()).await?;
    let app = spawn_app_with(|config| {
        config.data_dir = data.path().to_path_buf();
        config.sandbox.enabled = false;
    })
    .await?;
    let browser = Browser::start().await?;
    cdp(&browser, "Network.enable", json!({})).await?;
    cdp(
        &browser,
        "Network.setCacheDisabled",
        json!({ "cacheDisabled": true }),
    )
    .await?;
    cdp(
        &browser,
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": RECORDER }),
    )
    .await?;

    println!(
        "{ROUNDS} rounds, each a fresh load with the HTTP cache off; ms since navigation start"
    );
    let mut figures = Figures::default();
    for round in 1..=ROUNDS {
        measure_round(&browser, &app, round, &mut figures).await?;
    }
    print_medians(&mut figures);

    let closed = browser.close().await;
    app.stop().await?;
    closed
}

/// One round: each page loaded fresh, its figures printed and kept.
async fn measure_round(
    browser: &Browser,
    app: &TestApp,
    round: usize,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    let health = load(browser, &app.url("/api/health"), "paint").await?;
    let health_paint = health
        .first_contentful_paint
        .context("/api/health painted nothing")?;
    let missing = load(browser, &app.url("/no-such-view"), "not-found").await?;
    let not_found = missing
        .not_found
        .context("the not-found view did not show")?;
    let home = load(browser, &app.url("/"), "drawn").await?;
    let home_first_chart = home.first_canvas.context("no chart on / within 20 s")?;
    let compare = load(browser, &app.url(COMPARE_PATH), "drawn").await?;
    let drawn = compare
        .all_drawn
        .context("the compare view's charts were not drawn within 20 s")?;
    let first_chart = compare
        .first_canvas
        .context("no chart on the compare view")?;
    let all_canvas = compare.all_canvas.context("no chart on the compare view")?;
    let data = compare.data_arrived()?;

    if round == 1 {
        println!(
            "  compare view: {} chart(s); its API requests (start → responseEnd, body bytes):",
            compare.charts
        );
        for response in &compare.api {
            println!(
                "    {:<50} {:>8.1} → {:>8.1}  {:>9.0} B",
                response.path, response.start, response.end, response.bytes
            );
        }
    }
    println!(
        "round {round}: /api/health painted {health_paint:.1} (document {:.1}, load {:.1}) | \
         not-found view {not_found:.1} (wasm {:.0} B transferred) | / first chart \
         {home_first_chart:.1} (JS + wasm {:.0} B as sent; the compare view's {:.0} B)",
        health.document_end,
        health.load_end,
        missing.wasm_transferred.unwrap_or_default(),
        home.code_bytes,
        compare.code_bytes
    );
    println!(
        "  compare: first chart {first_chart:.1}, data arrived {data:.1}, every chart has a \
         canvas {all_canvas:.1} ({:+.1} after the data), drawn with data {drawn:.1} ({:+.1} \
         after the data)",
        all_canvas - data,
        drawn - data
    );
    figures.health_paint.push(health_paint);
    figures.not_found.push(not_found);
    figures.home_first_chart.push(home_first_chart);
    figures.compare_data.push(data);
    figures.compare_first_chart.push(first_chart);
    figures
        .compare_all_canvas_after_data
        .push(all_canvas - data);
    figures.compare_drawn_after_data.push(drawn - data);
    figures.compare_drawn.push(drawn);
    Ok(())
}

/// Medians over the rounds, the ratio to the goal and to the reference page.
fn print_medians(figures: &mut Figures) {
    let reference = median(&mut figures.health_paint);
    let after_data = median(&mut figures.compare_drawn_after_data);
    println!("medians over {ROUNDS} rounds (ms since navigation start unless said otherwise):");
    for (what, value) in [
        (
            "reference: /api/health (static JSON) first paint",
            reference,
        ),
        (
            "not-found view shown (the console booting, no data)",
            median(&mut figures.not_found),
        ),
        ("/ first chart", median(&mut figures.home_first_chart)),
        (
            "compare: first chart",
            median(&mut figures.compare_first_chart),
        ),
        (
            "compare: data arrived (last /api/ responseEnd)",
            median(&mut figures.compare_data),
        ),
        (
            "compare: every chart has a canvas, after the data",
            median(&mut figures.compare_all_canvas_after_data),
        ),
        ("compare: drawn with data, after the data", after_data),
        (
            "compare: drawn with data",
            median(&mut figures.compare_drawn),
        ),
    ] {
        println!("  {what:<55} {value:>8.1} ms");
    }
    println!(
        "compare view drawn after its data / goal (1 s): {:.3}; compare view drawn / reference \
         page painted: {:.1}",
        after_data / GOAL_MS,
        median(&mut figures.compare_drawn) / reference
    );
}

/// Loads `url` in a fresh document and waits for `want` (see [`COLLECT`]).
async fn load(browser: &Browser, url: &str, want: &str) -> anyhow::Result<PageTiming> {
    browser.client.goto("about:blank").await?;
    browser
        .client
        .goto(url)
        .await
        .with_context(|| format!("loading {url}"))?;
    let timing = browser
        .client
        .execute_async(COLLECT, vec![json!(want), json!(PAGE_TIMEOUT_MS)])
        .await
        .with_context(|| format!("timing {url}"))?;
    serde_json::from_value(timing).with_context(|| format!("reading the timings of {url}"))
}

/// The wasm, JS and CSS in `dist/`, raw and gzipped as served: the build's gzip -9 copy where
/// there is one, else gzip at the default level (what the console compresses on the fly).
fn print_dist_sizes(dist: &Path) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dist).with_context(|| format!("reading {}", dist.display()))? {
        let path = entry?.path();
        let kind = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        if matches!(kind, "wasm" | "js" | "css") {
            let bytes = std::fs::read(&path)?;
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let served = match std::fs::metadata(path.with_extension(format!("{kind}.gz"))) {
                Ok(precompressed) => usize::try_from(precompressed.len())?,
                Err(_) => gzip_len(&bytes)?,
            };
            files.push((name.into_owned(), bytes.len(), served));
        }
    }
    files.sort();
    println!("{} (gzip as served):", dist.display());
    for (name, raw, gzip) in &files {
        println!("  {name:<48} {raw:>9} B raw {gzip:>9} B gzip");
    }
    let (raw, gzip) = files
        .iter()
        .fold((0, 0), |(r, g), (_, raw, gzip)| (r + raw, g + gzip));
    println!("  {:<48} {raw:>9} B raw {gzip:>9} B gzip", "total");
    Ok(())
}

fn gzip_len(bytes: &[u8]) -> anyhow::Result<usize> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?.len())
}

/// Sends a Chrome `DevTools` Protocol command to the page through chromedriver.
async fn cdp(browser: &Browser, cmd: &'static str, params: Value) -> anyhow::Result<()> {
    browser
        .chromedriver("goog/cdp/execute", json!({ "cmd": cmd, "params": params }))
        .await
        .with_context(|| format!("CDP {cmd}"))?;
    Ok(())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_unstable_by(f64::total_cmp);
    values[values.len() / 2]
}
