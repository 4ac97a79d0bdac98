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
fn the_sandbox_keeps_its_configured_size_and_an_oversized_plan_is_a_critical_finding() {
    let data = tempfile::tempdir().unwrap();
    let json = data.path().join("report.json");
    let output = Command::new(env!("CARGO_BIN_EXE_lifeguard"))
        .args([
            "run",
            "--suite",
            "auth-burst",
            "--profile",
            "current",
            "--quiet",
        ])
        .arg("--json")
        .arg(&json)
        .env("RUST_LOG", "warn")
        .env("LIFEGUARD_DATA_DIR", data.path())
        .env("LIFEGUARD_SANDBOX__MAX_CONNECTIONS", "40")
        .output()
        .unwrap();
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let server = &report["server"];
    assert_eq!(server["max_connections"], 40, "as configured: {server}");
    assert_eq!(server["superuser_reserved_connections"], 3, "{server}");
    let budget = report["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["metric"] == "connection_budget_pct")
        .unwrap();
    // current: async 10 + 20 and sync 10 + 15 = 55 connections, against 40 − 3 − others.
    let others = server["other_backends_at_start"].as_f64().unwrap();
    let expected = 55.0 * 100.0 / (37.0 - others);
    assert!(
        (budget["peak"].as_f64().unwrap() - expected).abs() < 1e-6,
        "{budget}"
    );
    assert_eq!(budget["level"], "critical", "{budget}");
    assert!(
        stdout(&output).contains("connection_budget_pct"),
        "{}",
        stdout(&output)
    );
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

/// A configuration with a suite short enough for several runs per test, long enough for blocks.
fn quick_config(dir: &std::path::Path) -> std::path::PathBuf {
    let config = dir.join("lifeguard.toml");
    std::fs::write(
        &config,
        r#"
        [[suites]]
        name = "quick"
        [[suites.scenarios]]
        name = "moderate"
        min_success_rate = 0.9
        load = { model = "closed", users = 10, requests_per_user = 8 }
        "#,
    )
    .unwrap();
    config
}

/// The run id in the `view:` link's last segment.
fn viewed_run(stdout: &str) -> String {
    let link = stdout
        .lines()
        .find_map(|l| l.strip_prefix("view: "))
        .unwrap_or_else(|| panic!("no view link in {stdout}"));
    link.rsplit('/').next().unwrap().to_owned()
}

/// Runs the quick suite with `extra` arguments; the output.
fn quick_run(data: &std::path::Path, config: &std::path::Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "--config",
        config.to_str().unwrap(),
        "run",
        "--suite",
        "quick",
        "--profile",
        "recommended-dev",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    lifeguard_in(data, &args)
}

fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{}{}",
        stdout(output),
        stderr(output)
    );
}

/// The pipeline's regressed-run checks: exit 2, the table says so, JUnit fails the metric.
fn assert_regressed(output: &Output, junit: &std::path::Path) {
    assert_exit(output, 2);
    let table = stdout(output);
    assert!(
        table
            .lines()
            .any(|l| l.contains("mean_latency_ms") && l.ends_with("REGRESSED")),
        "{table}"
    );
    assert!(
        table.contains("baseline `main` left as it was"),
        "a regressed run must not become the baseline: {table}"
    );
    let xml = std::fs::read_to_string(junit).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains("name=\"mean_latency_ms\"><failure"),
        "the regressed metric must fail its test case: {xml}"
    );
    let failures: usize = xml
        .split("failures=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(failures >= 1, "{xml}");
}

#[test]
fn a_pipeline_sets_a_baseline_then_exits_2_when_the_next_run_regresses() {
    let dir = tempfile::tempdir().unwrap();
    let config = quick_config(dir.path());
    let data = dir.path().join("data");

    // Without a baseline yet: the run passes, says so, and becomes the baseline.
    let first = quick_run(
        &data,
        &config,
        &["--baseline", "main", "--set-baseline", "main"],
    );
    assert_exit(&first, 0);
    let base_id = viewed_run(&stdout(&first));
    assert!(
        stdout(&first).contains("no baseline `main` yet"),
        "{}",
        stdout(&first)
    );
    assert!(stdout(&first).contains(&format!("baseline `main` now points to run {base_id}")));

    // 20 ms more hold per request: regressed against the baseline.
    let junit = dir.path().join("junit.xml");
    let second = quick_run(
        &data,
        &config,
        &[
            "--workload",
            "hold_ms=20",
            "--baseline",
            "main",
            "--set-baseline",
            "main",
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_regressed(&second, &junit);
    let link = stdout(&second)
        .lines()
        .find_map(|l| l.strip_prefix("view: "))
        .unwrap()
        .to_owned();
    let head_id = viewed_run(&stdout(&second));
    assert!(
        link.ends_with(&format!("/compare/{base_id}/{head_id}")),
        "{link}"
    );

    // The stored runs compare the same way later, by baseline name or by id.
    let config_arg = config.to_str().unwrap();
    let by_name = lifeguard_in(
        &data,
        &["--config", config_arg, "compare", "baseline:main", &head_id],
    );
    assert_exit(&by_name, 2);
    assert!(stdout(&by_name).contains(&format!("/compare/{base_id}/{head_id}")));
    let reversed = lifeguard_in(
        &data,
        &["--config", config_arg, "compare", &head_id, &base_id],
    );
    assert_exit(&reversed, 0);
    assert!(
        stdout(&reversed)
            .lines()
            .any(|l| l.contains("mean_latency_ms") && l.ends_with("IMPROVED")),
        "{}",
        stdout(&reversed)
    );

    let list = lifeguard_in(&data, &["--config", config_arg, "baseline", "list"]);
    assert_exit(&list, 0);
    let listed = stdout(&list);
    assert!(
        listed.starts_with("main ") && listed.contains(&format!("run {base_id}")),
        "{listed}"
    );

    // Pointing the baseline by hand, then an unknown run: exit 3 with the reason.
    let set = lifeguard_in(
        &data,
        &["--config", config_arg, "baseline", "set", "main", &head_id],
    );
    assert_exit(&set, 0);
    let unknown = lifeguard_in(
        &data,
        &[
            "--config",
            config_arg,
            "baseline",
            "set",
            "main",
            "no-such-run",
        ],
    );
    assert_exit(&unknown, 3);
    assert!(
        stderr(&unknown).contains("no-such-run"),
        "{}",
        stderr(&unknown)
    );
}

/// `lifeguard serve` as a child process, stopped on drop.
struct Server {
    child: std::process::Child,
    url: String,
}

impl Server {
    fn start(config: &std::path::Path, data: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_lifeguard"))
            .args([
                "--config",
                config.to_str().unwrap(),
                "serve",
                "--listen",
                &listen,
            ])
            .env("RUST_LOG", "warn")
            .env("LIFEGUARD_DATA_DIR", data)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let server = Self {
            child,
            url: format!("http://{listen}"),
        };
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(&listen).is_err() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "the console did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id().cast_signed()),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

#[test]
fn a_pipeline_runs_through_a_console_server_with_the_same_contract() {
    let dir = tempfile::tempdir().unwrap();
    let config = quick_config(dir.path());
    let server = Server::start(&config, &dir.path().join("server-data"));
    // The pipeline's own data directory stays empty: everything happens on the server.
    let pipeline = dir.path().join("pipeline-data");
    let url = server.url.clone();
    let remote = ["--server", url.as_str()];

    let mut args = vec!["--set-baseline", "main"];
    args.extend_from_slice(&remote);
    let first = quick_run(&pipeline, &config, &args);
    assert_exit(&first, 0);
    let base_id = viewed_run(&stdout(&first));
    assert!(stdout(&first).contains(&format!("view: {}/runs/{base_id}", server.url)));

    let junit = dir.path().join("junit.xml");
    let mut args = vec![
        "--workload",
        "hold_ms=20",
        "--baseline",
        "main",
        "--set-baseline",
        "main",
        "--junit",
        junit.to_str().unwrap(),
    ];
    args.extend_from_slice(&remote);
    let second = quick_run(&pipeline, &config, &args);
    assert_regressed(&second, &junit);
    assert!(stdout(&second).contains(&format!("view: {}/compare/{base_id}/", server.url)));

    let mut args = vec!["--config", config.to_str().unwrap(), "baseline", "list"];
    args.extend_from_slice(&remote);
    let list = lifeguard_in(&pipeline, &args);
    assert_exit(&list, 0);
    assert!(
        stdout(&list).contains(&format!("run {base_id}")),
        "{}",
        stdout(&list)
    );
    assert!(
        !pipeline.exists(),
        "a remote pipeline must not create a local store"
    );

    // A server that is not there: exit 3, saying which.
    drop(server);
    let gone = quick_run(&pipeline, &config, &remote);
    assert_exit(&gone, 3);
    assert!(stderr(&gone).contains(&url), "{}", stderr(&gone));
}
