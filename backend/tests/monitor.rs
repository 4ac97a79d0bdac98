//! A monitor's sampler against a real sandbox: sessions left idle in a transaction, a storm of new
//! connections, and what one sample of `pg_stat_activity` says of them.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use std::time::Duration;

use lifeguard::monitor::sample::Sampler;
use lifeguard::sandbox::{Sandbox, SandboxOptions};
use lifeguard_shared::metric::Metric;

/// A session of its own, named `application`.
async fn session(sandbox: &Sandbox, application: &str) -> tokio_postgres::Client {
    let mut config = sandbox.connect_config();
    config.application_name(application);
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

#[tokio::test]
async fn a_sample_sees_sessions_idle_in_transaction_and_a_storm_of_new_connections() {
    let sandbox = Sandbox::start(&SandboxOptions {
        max_connections: 40,
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let mut sampler = Sampler::connect("sandbox", &sandbox.connect_config())
        .await
        .unwrap();
    let first = sampler.sample().await.unwrap();
    assert_eq!(first.max_connections, 40);
    assert_eq!(first.new_backends_per_s, None, "no previous sample");
    assert_eq!(first.idle_in_transaction, 0);

    let mut stuck = Vec::new();
    for _ in 0..2 {
        stuck.push(session(&sandbox, "stuck-app").await);
    }
    for client in &stuck {
        client.batch_execute("BEGIN; SELECT 1").await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut storm = Vec::new();
    for _ in 0..12 {
        storm.push(session(&sandbox, "storm").await);
    }
    let second = sampler.sample().await.unwrap();
    assert_eq!(second.idle_in_transaction, 2, "{second:#?}");
    assert!(second.oldest_idle_in_transaction_s >= 1.0, "{second:#?}");
    assert!(second.longest_transaction_s >= second.oldest_idle_in_transaction_s);
    assert_eq!(
        second.applications.get("stuck-app"),
        Some(&2),
        "{second:#?}"
    );
    assert_eq!(second.applications.get("storm"), Some(&12), "{second:#?}");
    assert!(
        !second
            .applications
            .keys()
            .any(|a| a.starts_with("lifeguard-monitor")),
        "the monitor leaves itself out: {second:#?}"
    );
    assert_eq!(second.backends, 14, "{second:#?}");
    let churn = second.value(Metric::ChurnPerS).unwrap();
    assert!(churn > 5.0, "14 new backends in about 1.2 s: {churn}");
    let used = second.value(Metric::ConnectionsUsedPct).unwrap();
    assert!((used - 14.0 * 100.0 / 40.0).abs() < 1e-9, "{used}");

    drop(storm);
    for client in &stuck {
        client.batch_execute("ROLLBACK").await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let third = sampler.sample().await.unwrap();
    assert_eq!(third.idle_in_transaction, 0, "{third:#?}");
    assert!(third.oldest_idle_in_transaction_s.abs() < f64::EPSILON);
    assert_eq!(third.value(Metric::ChurnPerS), Some(0.0), "{third:#?}");
}

/// `lifeguard watch` on a configured target with two sessions idle in a transaction: a line per
/// sample, the configured monitor's rule raising its alert, exit 1 as it stands.
#[tokio::test]
async fn watch_prints_a_line_per_sample_and_raises_the_monitors_alert() {
    let sandbox = Sandbox::start(&SandboxOptions::default()).await.unwrap();
    let mut stuck = Vec::new();
    for _ in 0..2 {
        let client = session(&sandbox, "stuck-app").await;
        client.batch_execute("BEGIN; SELECT 1").await.unwrap();
        stuck.push(client);
    }
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("lifeguard.toml");
    std::fs::write(
        &config,
        format!(
            "[[targets]]\nname = \"watched\"\nurl = \"{}\"\n\n[[monitors]]\ntarget = \"watched\"\n\
             alerts = {{ fire_after = 2, resolve_after = 2, rules = [{{ metric = \
             \"idle_in_transaction\", warning = 1, critical = 3 }}] }}\n",
            sandbox.url()
        ),
    )
    .unwrap();
    let watched = tokio::process::Command::new(env!("CARGO_BIN_EXE_lifeguard"))
        .args(["watch", "watched", "--interval-s", "1", "--count", "3"])
        .env("LIFEGUARD_CONFIG", &config)
        .env("LIFEGUARD_DATA_DIR", data.path())
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    let out = String::from_utf8_lossy(&watched.stdout);
    assert_eq!(watched.status.code(), Some(1), "{out}");
    let samples: Vec<&str> = out.lines().filter(|l| l.contains("backends ")).collect();
    assert_eq!(samples.len(), 3, "{out}");
    assert!(samples[0].contains("idle in tx 2"), "{out}");
    assert_eq!(
        out.matches("ALERT warning: idle in transaction at 2 (threshold 1)")
            .count(),
        1,
        "fired once, after two samples: {out}"
    );
    assert!(
        !out.contains(&sandbox.password().to_owned()),
        "no secret in the output"
    );
    // A target with nothing to watch is refused by name, before anything is read.
    let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_lifeguard"))
        .args(["watch", "nowhere", "--count", "1"])
        .env("LIFEGUARD_CONFIG", &config)
        .env("LIFEGUARD_DATA_DIR", data.path())
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(3), "{said}");
    assert!(
        said.contains("`nowhere` is no target of the configuration with something to watch"),
        "{said}"
    );
}

/// `lifeguard deploy mark` records a deployment in the configured store and `deploy compare`
/// reads it back (without a monitor, no samples either side: nothing regressed, exit 0); an
/// unknown target is refused by name, exit 3.
#[test]
fn deploy_marks_and_compares_through_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("lifeguard.toml");
    std::fs::write(
        &config,
        "[sandbox]\nenabled = false\n[[targets]]\nname = \"prod\"\nurl = \"postgres://u:secret@127.0.0.1:1/db\"\n",
    )
    .unwrap();
    let lifeguard = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_lifeguard"))
            .args(args)
            .env("LIFEGUARD_CONFIG", &config)
            .env("LIFEGUARD_DATA_DIR", data.path())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let marked = lifeguard(&["deploy", "mark", "--target", "prod", "--version", "v42"]);
    let out = String::from_utf8_lossy(&marked.stdout).into_owned();
    assert_eq!(marked.status.code(), Some(0), "{out}");
    let id = out.split_whitespace().nth(1).unwrap().to_owned();
    assert!(out.contains("of `v42` on `prod`"), "{out}");
    let compared = lifeguard(&["deploy", "compare", &id, "--window-s", "60"]);
    let out = String::from_utf8_lossy(&compared.stdout);
    assert_eq!(compared.status.code(), Some(0), "{out}");
    assert!(out.contains("0 samples before, 0 after"), "{out}");
    let refused = lifeguard(&["deploy", "mark", "--target", "nowhere", "--version", "v1"]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(3), "{err}");
    assert!(
        err.contains("`target` names no known target: `nowhere`"),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
}
