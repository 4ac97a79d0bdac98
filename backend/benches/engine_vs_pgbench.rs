//! lifeguard against pgbench on the same sandbox, same statements, same concurrency:
//! `cargo bench -p lifeguard --bench engine_vs_pgbench`.
//!
//! Cases: select-only (the session lookup) and the auth-flow transaction (BEGIN, session lookup,
//! user lookup, touch `last_seen_at`, COMMIT), each with 10 and 20 clients for equal fixed
//! durations (`LIFEGUARD_BENCH_SECONDS`, default 5). lifeguard runs a closed model with as many
//! users as pgbench has clients, through its instrumented pool sized to match (no overflow,
//! pre-warmed), twice with pool events on and twice with them off. Its engine drives a run from one
//! thread, so the reference is pgbench with one thread (`-j 1`, pgbench's default); pgbench with
//! two threads is shown beside it. The sides alternate for `LIFEGUARD_BENCH_ROUNDS` rounds
//! (default 5); ratios are the median of each round's ratio, so a noisy moment on a shared
//! machine does not decide one. The last lines are the highest instrumentation cost and the lowest
//! throughput ratio of the cases: `lifeguard/pgbench throughput ratio: X.XX`.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;
use lifeguard::pool::events::PoolRole;
use lifeguard::runner::{Abort, RunPlan, new_run_id, run_with};
use lifeguard::sandbox::{Sandbox, SandboxOptions, ServerBinaries};
use lifeguard::workload::auth_flow::AuthFlowWorkload;
use lifeguard::workload::schema::{self, seeded_token};
use lifeguard::workload::{Outcome, Pools, RequestResult, Workload};
use lifeguard_shared::pool::{PoolProfile, PoolSettings, Reuse};
use lifeguard_shared::report::ScenarioReport;
use lifeguard_shared::workload::AuthFlow;
use nix::sys::resource::UsageWho;
use rand::Rng as _;
use rand::rngs::SmallRng;
use support::{Figures, closed_suite, cpu, setting};
use tokio_postgres::Statement;

const USERS: u32 = 10_000;

const SELECT_ONLY: &str = "\\set id random(1, 10000)
SELECT user_id, expires_at > now() FROM lifeguard.sessions WHERE token = 'seed-' || :id;
";

const AUTH_FLOW: &str = "\\set id random(1, 10000)
BEGIN;
SELECT user_id, expires_at > now() FROM lifeguard.sessions WHERE token = 'seed-' || :id;
SELECT id, email FROM lifeguard.users WHERE id = :id;
UPDATE lifeguard.sessions SET last_seen_at = now() WHERE token = 'seed-' || :id;
END;
";

/// The select-only case through lifeguard: check out, look the session up, check in.
struct SelectOnly(Pools);

impl Workload for SelectOnly {
    fn hold(&self) -> Duration {
        Duration::ZERO
    }

    async fn request(&self, rng: &mut SmallRng, _hold: Duration) -> RequestResult {
        let asked = std::time::Instant::now();
        let mut conn = match self.0.next().primary.checkout().await {
            Ok(conn) => conn,
            Err(error) => {
                return RequestResult {
                    outcome: Outcome::of_checkout(&error),
                    acquire_wait: asked.elapsed(),
                    pool: Some(PoolRole::Primary),
                };
            }
        };
        let acquire_wait = asked.elapsed();
        if conn.extension::<Statement>().is_none() {
            match conn
                .client()
                .prepare(
                    "SELECT user_id, expires_at > now() FROM lifeguard.sessions WHERE token = $1",
                )
                .await
            {
                Ok(statement) => conn.set_extension(statement),
                Err(_) => conn.mark_broken(),
            }
        }
        let token = seeded_token(rng.random_range(1..=USERS));
        let outcome = match conn.extension::<Statement>() {
            Some(statement) => match conn.client().query_opt(statement, &[&token]).await {
                Ok(_) => Outcome::Ok,
                Err(_) => Outcome::DbError,
            },
            None => Outcome::DbError,
        };
        RequestResult {
            outcome,
            acquire_wait,
            pool: Some(PoolRole::Primary),
        }
    }
}

fn pgbench(
    binaries: &ServerBinaries,
    sandbox: &Sandbox,
    script: &str,
    clients: u32,
    threads: u32,
    seconds: u64,
) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    let script_path = dir.path().join("script.sql");
    std::fs::write(&script_path, script)?;
    let cpu_before = cpu(UsageWho::RUSAGE_CHILDREN);
    let output = Command::new(binaries.pgbench())
        .current_dir(dir.path())
        .env("PGPASSWORD", sandbox.password())
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            lifeguard::sandbox::SANDBOX_USER,
            "-n",
            "-M",
            "prepared",
        ])
        .args(["-p", &sandbox.port().to_string()])
        .args([
            "-c",
            &clients.to_string(),
            "-j",
            &threads.to_string(),
            "-T",
            &seconds.to_string(),
        ])
        .args(["-l", "--log-prefix=tx", "-f"])
        .arg(&script_path)
        .arg("postgres")
        .output()
        .context("running pgbench")?;
    let cpu_used = cpu(UsageWho::RUSAGE_CHILDREN).saturating_sub(cpu_before);
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "pgbench failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tps = stdout
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse::<f64>().ok())
        .with_context(|| format!("no tps in pgbench's output: {stdout}"))?;
    let mut latencies = per_transaction_latencies(dir.path())?;
    latencies.sort_unstable();
    let at = |permille: usize| latencies[(latencies.len() - 1) * permille / 1000] as f64 / 1000.0;
    Ok(Figures {
        per_s: tps,
        p50_ms: at(500),
        p95_ms: at(950),
        cpu_us: cpu_used.as_secs_f64() * 1e6 / latencies.len() as f64,
    })
}

/// Latencies in microseconds from pgbench's per-transaction logs (third column).
fn per_transaction_latencies(dir: &Path) -> anyhow::Result<Vec<u64>> {
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("tx."))
        {
            for line in std::fs::read_to_string(&path)?.lines() {
                if let Some(us) = line.split_whitespace().nth(2).and_then(|v| v.parse().ok()) {
                    latencies.push(us);
                }
            }
        }
    }
    anyhow::ensure!(!latencies.is_empty(), "pgbench logged no transactions");
    Ok(latencies)
}

fn plan(sandbox: &Sandbox, clients: u32, seconds: u64, instrumented: bool) -> RunPlan {
    let settings = PoolSettings {
        pool_size: clients,
        max_overflow: 0,
        pool_timeout_s: 30.0,
        pool_recycle_s: None,
        pre_ping: false,
        prewarm: true,
        reuse: Reuse::Fifo,
    };
    RunPlan {
        run_id: new_run_id(),
        target_name: "sandbox".into(),
        target: sandbox.connect_config().into(),
        suite: closed_suite(clients, seconds),
        profile: PoolProfile {
            name: "bench".into(),
            description: String::new(),
            primary: settings,
            secondary: None,
            replicas: 1,
        },
        workload: AuthFlow {
            users: USERS,
            login_ratio: 0.0,
            ..AuthFlow::default()
        },
        instrumented,
        max_duration: lifeguard::config::GuardRails::default().max_duration(),
    }
}

fn figures(scenario: &ScenarioReport) -> Figures {
    Figures {
        per_s: scenario.throughput_rps,
        p50_ms: scenario.latency_ms.p50,
        p95_ms: scenario.latency_ms.p95,
        cpu_us: 0.0,
    }
}

async fn lifeguard_side<W: Workload>(
    sandbox: &Sandbox,
    workload: impl FnOnce(Pools) -> W + Send + 'static,
    clients: u32,
    seconds: u64,
    instrumented: bool,
) -> anyhow::Result<Figures> {
    let cpu_before = cpu(UsageWho::RUSAGE_SELF);
    let output = run_with(
        plan(sandbox, clients, seconds, instrumented),
        workload,
        None,
        Abort::new(),
    )
    .await?;
    let scenario = &output.report.scenarios[0];
    anyhow::ensure!(
        scenario.outcomes.ok == scenario.requests,
        "lifeguard's requests failed: {:?}",
        scenario.outcomes
    );
    let cpu_used = cpu(UsageWho::RUSAGE_SELF).saturating_sub(cpu_before);
    Ok(Figures {
        cpu_us: cpu_used.as_secs_f64() * 1e6 / scenario.requests as f64,
        ..figures(scenario)
    })
}

/// The four sides of one case, `rounds` times: pgbench `-j 1`, lifeguard with events on and off
/// (twice each), pgbench `-j 2`.
async fn measure(
    binaries: &ServerBinaries,
    sandbox: &Sandbox,
    case: &str,
    script: &str,
    clients: u32,
    rounds: u64,
    seconds: u64,
) -> anyhow::Result<[Vec<Figures>; 4]> {
    let mut sides = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for round in 0..rounds {
        // Events on and off in an ABBA order (BAAB in odd rounds), each side the mean of its two
        // runs: a load drifting within the round weighs on both alike.
        let order = if round % 2 == 0 {
            [true, false, false, true]
        } else {
            [false, true, true, false]
        };
        sides[0].push(pgbench(binaries, sandbox, script, clients, 1, seconds)?);
        let (mut on, mut off) = (Vec::new(), Vec::new());
        for instrumented in order {
            let figures = if case == "select-only" {
                lifeguard_side(sandbox, SelectOnly, clients, seconds, instrumented).await?
            } else {
                let knobs = plan(sandbox, clients, seconds, true).workload;
                let workload = move |pools| AuthFlowWorkload::new(knobs, pools);
                lifeguard_side(sandbox, workload, clients, seconds, instrumented).await?
            };
            if instrumented {
                on.push(figures);
            } else {
                off.push(figures);
            }
        }
        sides[1].push(Figures::mean(&on));
        sides[2].push(Figures::mean(&off));
        sides[3].push(pgbench(binaries, sandbox, script, clients, 2, seconds)?);
    }
    Ok(sides)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let seconds = setting("LIFEGUARD_BENCH_SECONDS", 5);
    let rounds = setting("LIFEGUARD_BENCH_ROUNDS", 5);
    let options = SandboxOptions {
        max_connections: 100,
        ..SandboxOptions::default()
    };
    let binaries = ServerBinaries::discover(options.pg_bin.as_deref())
        .map_err(|looked| anyhow::anyhow!("no PostgreSQL binaries in {looked:?}"))?;
    let sandbox = Sandbox::start(&options).await?;
    {
        let (client, connection) = sandbox
            .connect_config()
            .connect(tokio_postgres::NoTls)
            .await?;
        tokio::spawn(connection);
        schema::ensure(&client, USERS).await?;
    }
    println!(
        "{seconds} s per side, {rounds} rounds; lifeguard: closed model on its one engine thread, \
         pool = clients, pre-warmed; pgbench -M prepared with one thread (-j 1, the reference) and \
         with two (-j 2)"
    );
    println!(
        "{:<12} {:>7} | {:>9} {:>6} {:>6} {:>7} | {:>9} {:>6} {:>6} {:>7} | {:>10} {:>7} | {:>9} | {:>6} {:>10} {:>10}",
        "case",
        "clients",
        "pgbench/s",
        "p50",
        "p95",
        "cpu µs",
        "lifeguard",
        "p50",
        "p95",
        "cpu µs",
        "events off",
        "cpu µs",
        "-j 2 /s",
        "ratio",
        "instr. cpu",
        "instr. tps"
    );
    let mut lowest = f64::INFINITY;
    let mut costliest = f64::NEG_INFINITY;
    for (case, script) in [("select-only", SELECT_ONLY), ("auth-flow", AUTH_FLOW)] {
        for clients in [10, 20] {
            let sides =
                measure(&binaries, &sandbox, case, script, clients, rounds, seconds).await?;
            // Ratios pair sides measured minutes apart at most, within one round: the median of
            // those ratios follows the engine, not the neighbours' load drifting between rounds.
            let paired = |of: &dyn Fn(usize) -> f64| {
                let mut ratios: Vec<f64> = (0..sides[0].len()).map(of).collect();
                ratios.sort_by(f64::total_cmp);
                ratios[ratios.len() / 2]
            };
            let ratio = paired(&|r| sides[1][r].per_s / sides[0][r].per_s);
            let instr_cpu = paired(&|r| sides[1][r].cpu_us / sides[2][r].cpu_us - 1.0) * 100.0;
            let instr_tps = paired(&|r| 1.0 - sides[1][r].per_s / sides[2][r].per_s) * 100.0;
            lowest = lowest.min(ratio);
            costliest = costliest.max(instr_cpu);
            let [reference, on, off, two_threads] = sides.map(|rounds| Figures::median(&rounds));
            println!(
                "{case:<12} {clients:>7} | {:>9.0} {:>6.2} {:>6.2} {:>7.1} | {:>9.0} {:>6.2} {:>6.2} {:>7.1} | {:>10.0} {:>7.1} | {:>9.0} | {ratio:>6.2} {instr_cpu:>9.1}% {instr_tps:>9.1}%",
                reference.per_s,
                reference.p50_ms,
                reference.p95_ms,
                reference.cpu_us,
                on.per_s,
                on.p50_ms,
                on.p95_ms,
                on.cpu_us,
                off.per_s,
                off.cpu_us,
                two_threads.per_s,
            );
        }
    }
    sandbox.stop().await;
    println!("latencies in ms; cpu µs = client CPU (user + system) per transaction");
    println!(
        "ratio, instr. cpu / tps: medians over the rounds of lifeguard against pgbench -j 1, and of \
         what pool events cost (client CPU added, throughput lost; events on vs off)"
    );
    println!("instrumentation cost (client CPU, the highest of the cases): {costliest:.1}%");
    println!("lifeguard/pgbench throughput ratio: {lowest:.2}");
    Ok(())
}
