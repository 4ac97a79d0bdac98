//! `lifeguard run` as a deploy pipeline calls it: exit codes, the table, the JSON contract.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use std::process::{Command, Output};

use serde_json::Value;

/// Runs the binary with its store in `data` (a fresh directory per test).
fn lifeguard_in(data: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lifeguard"))
        .args(args)
        .env("RUST_LOG", "warn")
        .env("LIFEGUARD_DATA_DIR", data)
        .output()
        .unwrap()
}

fn lifeguard(args: &[&str]) -> Output {
    let data = tempfile::tempdir().unwrap();
    lifeguard_in(data.path(), args)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every name the issue lists as the pipeline contract.
fn assert_contract(report: &Value) {
    for key in [
        "suite",
        "target",
        "profile",
        "state",
        "passed",
        "scenarios",
        "recovery",
        "leaks",
    ] {
        assert!(report.get(key).is_some(), "missing `{key}`");
    }
    for scenario in report["scenarios"].as_array().unwrap() {
        for key in [
            "name",
            "requests",
            "succeeded",
            "success_rate",
            "throughput_rps",
            "criteria",
            "passed",
        ] {
            assert!(scenario.get(key).is_some(), "scenario misses `{key}`");
        }
        for key in ["mean", "p50", "p95", "p99", "max"] {
            assert!(scenario["latency_ms"][key].is_number(), "latency_ms.{key}");
        }
        for key in ["mean", "p95", "max"] {
            assert!(
                scenario["acquire_wait_ms"][key].is_number(),
                "acquire_wait_ms.{key}"
            );
        }
        for key in [
            "peak_checked_out",
            "peak_overflow",
            "peak_waiters",
            "peak_utilization",
            "connections_created",
            "connections_closed",
            "churn_per_s",
            "exhaustion_events",
        ] {
            assert!(scenario["pool"][key].is_number(), "pool.{key}");
        }
        for criterion in scenario["criteria"].as_array().unwrap() {
            for key in ["name", "threshold", "value", "passed"] {
                assert!(criterion.get(key).is_some(), "criterion misses `{key}`");
            }
        }
    }
    assert!(report["recovery"].get("seconds").is_some());
    assert!(report["recovery"]["passed"].is_boolean());
    for key in ["checked_out_after", "idle_in_transaction", "passed"] {
        assert!(report["leaks"].get(key).is_some(), "leaks.{key}");
    }
}

#[test]
fn a_healthy_run_exits_0_prints_verdicts_and_writes_the_json_contract() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let output = lifeguard(&[
        "run",
        "--target",
        "sandbox",
        "--suite",
        "auth-burst",
        "--profile",
        "recommended-dev",
        "--quiet",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let table = stdout(&output);
    for scenario in ["light", "moderate", "heavy", "peak"] {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(scenario) && l.ends_with("PASS")),
            "{table}"
        );
    }
    assert!(
        table.contains("auth-burst on sandbox with profile recommended-dev: PASSED"),
        "{table}"
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_contract(&report);
    assert_eq!(report["state"], "passed");
    assert_eq!(report["passed"], true);
    assert_eq!(report["scenarios"][1]["requests"], 50);
}

#[test]
fn a_leaking_workload_exits_1_and_names_the_failed_criterion() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lifeguard.toml");
    std::fs::write(
        &config,
        r#"
        [[suites]]
        name = "quick"
        leak_check = { grace_s = 1.0 }
        [[suites.scenarios]]
        name = "moderate"
        min_success_rate = 0.5
        load = { model = "closed", users = 10, requests_per_user = 3 }
        "#,
    )
    .unwrap();
    let json = dir.path().join("report.json");
    let output = lifeguard(&[
        "--config",
        config.to_str().unwrap(),
        "run",
        "--suite",
        "quick",
        "--profile",
        "recommended-dev",
        "--workload",
        "leak_on_error=true",
        "--workload",
        "error_rate=0.3",
        "--quiet",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("FAILED (leaks)"),
        "{}",
        stdout(&output)
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["state"], "failed");
    assert_eq!(report["leaks"]["passed"], false);
    assert!(report["leaks"]["checked_out_after"].as_u64().unwrap() > 0);
}

#[test]
fn invalid_input_exits_3_naming_the_field_and_rule() {
    let output = lifeguard(&["run", "--workload", "error_rate=2"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("`workload.error_rate` must be between 0 and 1, got 2"),
        "{}",
        stderr(&output)
    );
    let output = lifeguard(&["run", "--workload", "pool_size=2"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains("`workload.pool_size` is not a workload setting"));
    let output = lifeguard(&["run", "--target", "staging"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains("names no known target: `staging`"));
}

#[test]
fn an_unreachable_target_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lifeguard.toml");
    std::fs::write(
        &config,
        "[[targets]]\nname = \"down\"\nurl = \"postgres://app:hunter2@127.0.0.1:1/auth\"\n",
    )
    .unwrap();
    let output = lifeguard(&[
        "--config",
        config.to_str().unwrap(),
        "run",
        "--target",
        "down",
    ]);
    assert_eq!(output.status.code(), Some(3));
    let err = stderr(&output);
    assert!(err.contains("cannot reach target `down`"), "{err}");
    assert!(!err.contains("hunter2"), "the password leaked: {err}");
}
