//! A deployed service's connection pool, read from the metrics it already exposes: fetched at an
//! interval, parsed whatever the exposition format ([`series`]), and mapped by a preset or a
//! custom mapping ([`mapping`]) to the gauges a run judges.

pub mod mapping;
pub mod series;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use mapping::PoolReading;
use series::Samples;

use crate::targets::http::MetricsPlan;

/// The service's pools as one scrape read them.
#[derive(Debug, Clone, PartialEq)]
pub struct Scrape {
    pub at: Instant,
    pub primary: PoolReading,
    pub secondary: Option<PoolReading>,
    /// The service's request duration, cumulative, in seconds.
    pub response_time: Option<series::Distribution>,
}

/// What the scraper hands the collector: a reading, or why there was none.
#[derive(Debug, Clone, PartialEq)]
pub enum Scraped {
    Read(Box<Scrape>),
    Failed { at: Instant, cause: String },
}

/// Checkouts that found a service's primary pool dry, as scrapes can tell: each time its waiting
/// checkouts rise from none to some. A scrape sees the pool at one instant, so this counts the
/// episodes it caught, not every checkout that queued.
#[derive(Debug, Clone, Default)]
pub struct DryEpisodes(Arc<AtomicU64>);

impl DryEpisodes {
    #[must_use]
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Fetches and reads one scrape.
pub async fn scrape_once(
    http: &reqwest::Client,
    plan: &MetricsPlan,
    timeout: Duration,
) -> Result<Scrape, String> {
    let response = http
        .get(plan.url.expose())
        .header(
            reqwest::header::ACCEPT,
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.9",
        )
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| {
            format!(
                "fetching the metrics: {}",
                crate::targets::http::describe(&e)
            )
        })?;
    if !response.status().is_success() {
        return Err(format!(
            "the metrics endpoint answered {}",
            response.status()
        ));
    }
    let text = response
        .text()
        .await
        .map_err(|e| format!("reading the metrics: {e}"))?;
    let samples = Samples::parse(&text)?;
    let read = |pool: &BTreeMap<String, String>| plan.mapping.read(&samples, pool);
    let primary = read(&plan.primary);
    if primary.used.is_none() {
        return Err(
            "the metrics hold no series of checked-out connections for the primary pool \
             (check the preset and the pool's labels)"
                .into(),
        );
    }
    Ok(Scrape {
        at: Instant::now(),
        primary,
        secondary: plan.secondary.as_ref().map(read),
        response_time: plan.mapping.response_time(&samples),
    })
}

/// Scrapes every `plan.interval` until `stop`, handing each reading (or failure) to the collector
/// and the latest reading to the phases. A failing endpoint never stops the run.
pub async fn watch(
    plan: MetricsPlan,
    http: reqwest::Client,
    to_collector: mpsc::Sender<Scraped>,
    latest: watch::Sender<Option<Scrape>>,
    dry: DryEpisodes,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(plan.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut waiting = false;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let read = tokio::select! {
            () = stop.cancelled() => return,
            read = scrape_once(&http, &plan, plan.interval.max(Duration::from_secs(1))) => read,
        };
        let message = match read {
            Ok(scrape) => {
                let now_waiting = scrape.primary.pending.is_some_and(|p| p > 0.0);
                if now_waiting && !waiting {
                    dry.0.fetch_add(1, Ordering::Relaxed);
                }
                waiting = now_waiting;
                latest.send_replace(Some(scrape.clone()));
                Scraped::Read(Box::new(scrape))
            }
            Err(cause) => Scraped::Failed {
                at: Instant::now(),
                cause,
            },
        };
        let _collector_gone = to_collector.try_send(message);
    }
}
