//! Deployments judged by their own traffic: a deployment is a moment marked on a target, and the
//! monitor's samples after it are compared with as long a window before it, metric by metric, by
//! the comparison two runs get ([`crate::stats::compare::compare_windows`]) — post-deployment
//! validation without generating load.

use std::time::Duration;

use lifeguard_shared::invalid::Invalid;
use lifeguard_shared::monitor::{Deployment, DeploymentComparison, DeploymentRequest, Window};

use crate::service::{RunService, ServiceError};
use crate::stats::compare::compare_windows;
use crate::store::now_ms;

/// The window each side of a comparison spans by default.
pub const DEFAULT_WINDOW: Duration = Duration::from_mins(30);

/// Longest window a comparison may ask for: the raw samples' default retention.
pub const MAX_WINDOW: Duration = Duration::from_hours(48);

/// Records a deployment of a known target.
pub async fn mark(
    runs: &RunService,
    request: DeploymentRequest,
) -> Result<Deployment, ServiceError> {
    request.validate()?;
    runs.targets().known(&request.target)?;
    let deployment = Deployment {
        id: crate::runner::new_run_id(),
        target: request.target,
        version: request.version.trim().to_owned(),
        notes: request.notes,
        at_ms: request.at_ms.unwrap_or_else(now_ms),
    };
    runs.store().add_deployment(&deployment).await?;
    Ok(deployment)
}

/// The deployment `id` judged: `window` after it (up to now) against as long a window before.
pub async fn compare(
    runs: &RunService,
    id: &str,
    window: Duration,
) -> Result<DeploymentComparison, ServiceError> {
    if window.is_zero() || window > MAX_WINDOW {
        return Err(Invalid::new(
            "window_s",
            format!(
                "must be above 0 and at most {} s, got {}",
                MAX_WINDOW.as_secs(),
                window.as_secs_f64()
            ),
        )
        .into());
    }
    let store = runs.store();
    let deployment = store
        .deployment(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no deployment `{id}`")))?;
    let at = deployment.at_ms;
    let wanted = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
    let after_to = at.saturating_add(wanted).min(now_ms().max(at));
    let span = after_to - at;
    let before_from = at.saturating_sub(span);
    let before = store
        .monitor_samples(&deployment.target, before_from, at)
        .await?;
    let after = store
        .monitor_samples(&deployment.target, at, after_to)
        .await?;
    let (metrics, verdict) = compare_windows(&before, &after, runs.compare_settings());
    let count = |samples: &[_]| u32::try_from(<[_]>::len(samples)).unwrap_or(u32::MAX);
    Ok(DeploymentComparison {
        before: Window {
            from_ms: before_from,
            to_ms: at,
            samples: count(&before),
        },
        after: Window {
            from_ms: at,
            to_ms: after_to,
            samples: count(&after),
        },
        deployment,
        metrics,
        verdict,
    })
}
