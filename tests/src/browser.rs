//! Headless Chromium through chromedriver (WebDriver), as a person would see the console.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// Flags known to work on these machines (no sandbox as root, no network beyond localhost).
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,800",
];

/// A fresh browser session with its own chromedriver and profile directory.
#[derive(Debug)]
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a session in a fresh profile.
    pub async fn start() -> anyhow::Result<Self> {
        let chromedriver = executable("CHROMEDRIVER", "chromedriver")?;
        let chromium = executable("CHROMIUM", "chromium")?;
        let port = {
            let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
            listener.local_addr()?.port()
        };
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", chromedriver.display()))?;
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not listen on port {port} within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir()?;
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let capabilities = json!({
            "goog:chromeOptions": { "binary": chromium, "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            anyhow::bail!("capabilities must be a JSON object");
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .context("opening a Chromium session through chromedriver")?;
        Ok(Self {
            client,
            driver,
            _profile: profile,
        })
    }

    /// Waits (up to 20 s) until the element matching `css` has exactly `expected` as its text.
    pub async fn wait_for_text(&self, css: &str, expected: &str) -> anyhow::Result<()> {
        retry(Duration::from_secs(20), || async move {
            let shown = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if shown.trim() == expected {
                Ok(())
            } else {
                Err(shown)
            }
        })
        .await
        .map_err(|shown| anyhow::anyhow!("`{css}` shows {shown:?}, expected {expected:?}"))
    }

    /// Waits (up to 20 s) for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("waiting for `{css}`"))
    }

    /// The text of the element matching `css`, once there is one (up to 20 s).
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        Ok(self.wait_for(css).await?.text().await?)
    }

    /// Opens `url` and waits for the element matching `css`; its text.
    pub async fn open_and_read(&self, url: &str, css: &str) -> anyhow::Result<String> {
        self.client.goto(url).await?;
        self.text(css).await
    }

    /// Scrolls the element matching `css` into view, then waits out ECharts' drawing animation
    /// (a screenshot should show the lines whole).
    pub async fn scroll_to(&self, css: &str) -> anyhow::Result<()> {
        let script = format!("document.querySelector('{css}').scrollIntoView()");
        self.client.execute(&script, vec![]).await?;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Ok(())
    }

    /// The series names of the ECharts instance inside `[data-chart=name]`, once it has some.
    pub async fn chart_series(&self, name: &str) -> anyhow::Result<Vec<String>> {
        let script = format!(
            "const el = document.querySelector('[data-chart={name}] .chart');
             const chart = el && echarts.getInstanceByDom(el);
             return chart ? chart.getOption().series.map(s => s.name) : null;"
        );
        retry(Duration::from_secs(20), || async {
            let value = self.client.execute(&script, vec![]).await?;
            let names: Vec<String> = value
                .as_array()
                .map(|names| {
                    names
                        .iter()
                        .filter_map(|n| n.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if names.is_empty() {
                anyhow::bail!("no chart `{name}` with series")
            }
            Ok(names)
        })
        .await
    }

    /// The ECharts options of the chart `[data-chart=name]`, once it has series.
    pub async fn chart_options(&self, name: &str) -> anyhow::Result<serde_json::Value> {
        self.chart_series(name).await?;
        let script = format!(
            "const el = document.querySelector('[data-chart={name}] .chart');
             return echarts.getInstanceByDom(el).getOption();"
        );
        Ok(self.client.execute(&script, vec![]).await?)
    }

    /// Clicks the chart `[data-chart=name]` where its x axis is at `x` (its value), halfway down
    /// the chart, as a user's mouse would (press and release: ECharts hears only such clicks).
    pub async fn click_chart_at(&self, name: &str, x: f64) -> anyhow::Result<()> {
        use fantoccini::actions::{
            InputSource as _, MOUSE_BUTTON_LEFT, MouseActions, PointerAction,
        };
        let css = format!("[data-chart={name}] .chart");
        self.chart_series(name).await?;
        let script = format!(
            "const el = document.querySelector('{css}');
             el.scrollIntoView({{block: 'center'}});
             const at = echarts.getInstanceByDom(el).convertToPixel({{xAxisIndex: 0}}, {x});
             return at - el.getBoundingClientRect().width / 2;"
        );
        let offset = self
            .client
            .execute(&script, vec![])
            .await?
            .as_f64()
            .context("the chart has no x axis")?;
        let element = self.client.find(Locator::Css(&css)).await?;
        let click = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement {
                element,
                duration: None,
                x: offset.round(),
                y: 0.0,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        self.client.perform_actions(click).await?;
        Ok(())
    }

    /// The page's width and the window's: a page that fits scrolls only down.
    pub async fn widths(&self) -> anyhow::Result<(u64, u64)> {
        let widths = self
            .client
            .execute(
                "return [document.documentElement.scrollWidth, \
                 document.documentElement.clientWidth];",
                vec![],
            )
            .await?;
        Ok(serde_json::from_value(widths)?)
    }

    /// The page's serious and critical accessibility violations, as axe-core (from npm, installed
    /// by `scripts/setup.sh --for test` into `.tools/axe`) finds them: `rule (impact): help — where`.
    pub async fn accessibility_violations(&self) -> anyhow::Result<Vec<String>> {
        let axe = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../.tools/axe/node_modules/axe-core/axe.min.js");
        let source = std::fs::read_to_string(&axe)
            .with_context(|| format!("{} (scripts/setup.sh --for test)", axe.display()))?;
        self.client.execute(&source, vec![]).await?;
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] }).then(
                   r => done(r.violations
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' — '
                       + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))),
                   e => done(['axe failed: ' + e]));",
                vec![],
            )
            .await?;
        Ok(serde_json::from_value(found)?)
    }

    /// Saves a PNG of the page as `<output>/screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = super::output_dir().join("screenshots");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await?)?;
        Ok(path)
    }

    /// Sends chromedriver a command W3C WebDriver lacks: `POST /session/{id}/{path}` with `body`.
    pub async fn chromedriver(
        &self,
        path: &'static str,
        body: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        self.client
            .issue_cmd(ChromedriverCommand { path, body })
            .await
            .with_context(|| format!("chromedriver {path}"))
    }

    /// Messages the page logged at level SEVERE (errors), from Chromium's log.
    pub async fn console_errors(&self) -> anyhow::Result<Vec<String>> {
        let logs = self
            .chromedriver("se/log", json!({ "type": "browser" }))
            .await;
        let Ok(serde_json::Value::Array(entries)) = logs else {
            return Ok(Vec::new());
        };
        Ok(entries
            .into_iter()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect())
    }

    /// Ends the session and chromedriver.
    pub async fn close(mut self) -> anyhow::Result<()> {
        let closed = self.client.clone().close().await;
        let _already_gone = self.driver.kill();
        let _reaped = self.driver.wait();
        closed.context("closing the browser session")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _already_gone = self.driver.kill();
    }
}

/// A chromedriver command outside W3C WebDriver (its log, Chrome `DevTools` Protocol calls).
#[derive(Debug)]
struct ChromedriverCommand {
    path: &'static str,
    body: serde_json::Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for ChromedriverCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

/// `$VAR`, else `name` on PATH, else `/usr/bin/name`.
fn executable(var: &str, name: &str) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        return Ok(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .chain(std::iter::once(PathBuf::from("/usr/bin").join(name)))
        .find(|candidate| candidate.is_file());
    on_path.with_context(|| {
        format!(
            "{name} not found (set {var}, or run scripts/setup.sh --for test, which installs it)"
        )
    })
}

/// Tries `attempt` every 100 ms until it succeeds or `limit` has passed; the error is the last
/// attempt's, which says what the page showed instead.
pub async fn retry<T, E, F, Fut>(limit: Duration, mut attempt: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(last) if started.elapsed() >= limit => return Err(last),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The series named `name` in chart options (from [`Browser::chart_options`]).
///
/// # Panics
///
/// When there is none, naming the options: a test's way to fail.
#[must_use]
pub fn series<'a>(options: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    options["series"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no series `{name}` in {options}"))
}
