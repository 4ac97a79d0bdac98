//! lifeguard against pgbench on the same sandbox, same statements, same concurrency:
//! `cargo bench -p lifeguard --bench engine_vs_pgbench`.
//!
//! Cases: select-only (the session lookup) and the auth-flow transaction (BEGIN, session lookup,
//! user lookup, touch `last_seen_at`, COMMIT), each with 10 and 20 clients for equal fixed
//! durations (`LIFEGUARD_BENCH_SECONDS`, default 5). lifeguard runs a closed model with as many
//! users as pgbench has clients, through its instrumented pool sized to match (no overflow,
//! pre-warmed): on one engine thread twice with pool events on and twice with them off, and on two
//! engine threads with events on. The references are pgbench with one thread (`-j 1`, pgbench's
//! default) for one engine thread and with two (`-j 2`) for two. The sides alternate for
//! `LIFEGUARD_BENCH_ROUNDS` rounds (default 5), in reverse order every other round, each on a
//! freshly vacuumed and checkpointed server; ratios are the median of each round's ratio, so a
//! noisy moment on a shared machine does not decide one.
//! Under each case's row, the whole machine's CPU per transaction (client, server and kernel)
//! beside the client's: once two threads fill the cores, throughput follows the machine's. Beside
//! them the machine's context switches and interrupts between cores per transaction (where the
//! scheduler put the server's backends), and under them each round's throughput ratios.
//!
//! Then the open model: on the select-only case at 10 clients, arrivals at 25, 50, 75, 90 and
//! 100 % of the closed model's throughput on one engine thread, measured just
//! before each open run in the same round; each round's lag of the actual starts behind the
//! schedule and the arrivals dropped; beside it, pgbench's own schedule lag at the same rates
//! (`--rate`, one thread): what this machine allows a generator. Under each share, the requests
//! served a second and the client CPU each took, beside the closed model's: on two cores shared
//! with the server, what the engine spends per request the server does not get.
//!
//! Then pool events measured alone: a million check-outs and check-ins of a pre-warmed pool's
//! idle connection, events on and off, collected on a thread of their own as in a run — the CPU
//! they add per request, against the cheapest case's CPU per transaction (the table's on/off
//! columns measure the same through the network, where a side's CPU per transaction moves a few
//! percent with the server's pace).
//!
//! The last lines are the highest instrumentation cost and, over the cases, the lowest throughput
//! ratios and the highest CPU ratio: `lifeguard/pgbench throughput ratio: X.XX` (one engine thread
//! against `-j 1`), `lifeguard/pgbench -j 2 throughput ratio: X.XX` (two against `-j 2`),
//! `cpu per transaction ratio: X.XX` (one engine thread's client CPU per transaction against
//! `-j 1`'s).
//!
//! `LIFEGUARD_BENCH_CASES` (say `auth-flow:10,select-only:20`) measures only those cases, for a
//! quick look while working on the engine; the open model runs with select-only at 10, or alone
//! with `open` (every share) or `open:<percent>` (that share: `open:100`).

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use lifeguard::pool::Pool;
use lifeguard::pool::events::PoolRole;
use lifeguard::pool::session::Statement;
use lifeguard::runner::collector::{Collector, PhaseClock, Samples};
use lifeguard::runner::{Abort, RunPlan, new_run_id, run_with};
use lifeguard::sandbox::{Sandbox, SandboxOptions, ServerBinaries};
use lifeguard::workload::auth_flow::AuthFlowWorkload;
use lifeguard::workload::schema::{self, seeded_token};
use lifeguard::workload::{Outcome, Pools, RequestResult, Workload};
use lifeguard_shared::pool::{PoolProfile, PoolSettings, Reuse};
use lifeguard_shared::report::{ScenarioReport, ServerReport};
use lifeguard_shared::workload::AuthFlow;
use rand::Rng as _;
use rand::rngs::SmallRng;
use support::{
    Figures, Usage, closed_suite, median, per_request_us, scheduling_per_request, setting,
};
use tokio_util::sync::CancellationToken;

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
                .session()
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
        let outcome = match conn.session_with::<Statement>() {
            (on, Some(statement)) => match on.query_opt(statement, &[&token.as_str()]).await {
                Ok(_) => Outcome::Ok,
                Err(_) => Outcome::DbError,
            },
            (_, None) => Outcome::DbError,
        };
        RequestResult {
            outcome,
            acquire_wait,
            pool: Some(PoolRole::Primary),
        }
    }
}

/// What one pgbench invocation printed, the directory of its per-transaction logs, and what it
/// and the machine spent while it ran (pgbench's CPU is the `children` share).
struct PgbenchRun {
    stdout: String,
    logs: tempfile::TempDir,
    spent: Usage,
}

impl PgbenchRun {
    /// Throughput, p50/p95 and client CPU per transaction, from the output and the logs.
    fn figures(&self) -> anyhow::Result<Figures> {
        let tps = self
            .stdout
            .lines()
            .find(|l| l.starts_with("tps = "))
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|v| v.parse::<f64>().ok())
            .with_context(|| format!("no tps in pgbench's output: {}", self.stdout))?;
        let latencies = per_transaction_column(self.logs.path(), LATENCY_COLUMN)?;
        let at = |permille| permille_ms(&latencies, permille);
        let count = latencies.len() as f64;
        let (switches, crossings) = scheduling_per_request(self.spent, count);
        Ok(Figures {
            per_s: tps,
            p50_ms: at(500),
            p95_ms: at(950),
            cpu_us: per_request_us(self.spent.children, count),
            machine_us: per_request_us(self.spent.machine, count),
            switches,
            crossings,
        })
    }
}

/// pgbench `-M prepared` with `clients` clients on `threads` threads for `seconds`, logging every
/// transaction, with `extra` arguments (say `--rate`).
fn run_pgbench(
    binaries: &ServerBinaries,
    sandbox: &Sandbox,
    script: &str,
    clients: u32,
    threads: u32,
    seconds: u64,
    extra: &[&str],
) -> anyhow::Result<PgbenchRun> {
    let logs = tempfile::tempdir()?;
    let script_path = logs.path().join("script.sql");
    std::fs::write(&script_path, script)?;
    let before = Usage::now();
    let output = Command::new(binaries.pgbench())
        .current_dir(logs.path())
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
        .args(extra)
        .args(["-l", "--log-prefix=tx", "-f"])
        .arg(&script_path)
        .arg("postgres")
        .output()
        .context("running pgbench")?;
    let spent = before.spent();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    anyhow::ensure!(
        output.status.success(),
        "pgbench failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(PgbenchRun {
        stdout,
        logs,
        spent,
    })
}

/// The value at `permille` of microseconds `sorted`, in ms.
fn permille_ms(sorted: &[u64], permille: usize) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "microseconds")]
    let value = sorted[(sorted.len() - 1) * permille / 1000] as f64;
    value / 1000.0
}

/// A transaction's latency in pgbench's per-transaction log, in microseconds.
const LATENCY_COLUMN: usize = 2;
/// Under `--rate`, how late the transaction started against its schedule, in microseconds.
const SCHEDULE_LAG_COLUMN: usize = 6;

/// One column of pgbench's per-transaction logs, every transaction's value, sorted.
fn per_transaction_column(dir: &Path, column: usize) -> anyhow::Result<Vec<u64>> {
    let mut values = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("tx."))
        {
            for line in std::fs::read_to_string(&path)?.lines() {
                if let Some(us) = line
                    .split_whitespace()
                    .nth(column)
                    .and_then(|v| v.parse().ok())
                {
                    values.push(us);
                }
            }
        }
    }
    anyhow::ensure!(!values.is_empty(), "pgbench logged no transactions");
    values.sort_unstable();
    Ok(values)
}

/// lifeguard's pool on every side: one connection per client, pre-warmed, no overflow.
fn pool_settings(clients: u32) -> PoolSettings {
    PoolSettings {
        pool_size: clients,
        max_overflow: 0,
        pool_timeout_s: 30.0,
        pool_recycle_s: None,
        pre_ping: false,
        prewarm: true,
        reuse: Reuse::Fifo,
    }
}

fn plan(
    sandbox: &Sandbox,
    clients: u32,
    seconds: u64,
    instrumented: bool,
    engine_threads: u32,
) -> RunPlan {
    let settings = pool_settings(clients);
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
        engine_threads,
    }
}

fn figures(scenario: &ScenarioReport) -> Figures {
    Figures {
        per_s: scenario.throughput_rps,
        p50_ms: scenario.latency_ms.p50,
        p95_ms: scenario.latency_ms.p95,
        cpu_us: 0.0,
        machine_us: 0.0,
        switches: 0.0,
        crossings: 0.0,
    }
}

/// How lifeguard runs one side: its engine's threads and whether pool events are on.
#[derive(Debug, Clone, Copy)]
struct Engine {
    threads: u32,
    instrumented: bool,
}

async fn lifeguard_side<W: Workload>(
    sandbox: &Sandbox,
    workload: impl FnOnce(Pools) -> W + Send + 'static,
    clients: u32,
    seconds: u64,
    engine: Engine,
) -> anyhow::Result<Figures> {
    let before = Usage::now();
    let output = run_with(
        plan(
            sandbox,
            clients,
            seconds,
            engine.instrumented,
            engine.threads,
        ),
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
    let spent = before.spent();
    let count = scenario.requests as f64;
    let (switches, crossings) = scheduling_per_request(spent, count);
    Ok(Figures {
        cpu_us: per_request_us(spent.own, count),
        machine_us: per_request_us(spent.machine, count),
        switches,
        crossings,
        ..figures(scenario)
    })
}

/// One side of `case` through lifeguard.
async fn lifeguard_case(
    sandbox: &Sandbox,
    case: &str,
    clients: u32,
    seconds: u64,
    engine: Engine,
) -> anyhow::Result<Figures> {
    if case == "select-only" {
        lifeguard_side(sandbox, SelectOnly, clients, seconds, engine).await
    } else {
        let knobs = plan(sandbox, clients, seconds, true, 1).workload;
        let workload = move |pools| AuthFlowWorkload::new(knobs, pools);
        lifeguard_side(sandbox, workload, clients, seconds, engine).await
    }
}

/// The sides of one case, in the order [`measure`] returns them.
const SIDES: usize = 5;
const PGBENCH_1: usize = 0;
const ONE_THREAD: usize = 1;
const EVENTS_OFF: usize = 2;
const TWO_THREADS: usize = 3;
const PGBENCH_2: usize = 4;

/// What one step of a round runs.
#[derive(Debug, Clone, Copy)]
enum Step {
    Pgbench {
        threads: u32,
    },
    /// lifeguard on one engine thread, events on and off.
    OneThread,
    TwoThreads,
}

/// The sides of one case, `rounds` times: pgbench `-j 1`, lifeguard on one engine thread with
/// events on and off (twice each), lifeguard on two engine threads, pgbench `-j 2` — in that
/// order in even rounds and in the reverse order in odd ones, so that neither side of a ratio
/// always runs first (a load drifting through a round weighs on both alike). Every side starts
/// on a [`settle`]d server.
async fn measure(
    binaries: &ServerBinaries,
    sandbox: &Sandbox,
    case: &str,
    script: &str,
    clients: u32,
    rounds: u64,
    seconds: u64,
) -> anyhow::Result<[Vec<Figures>; SIDES]> {
    let mut sides: [Vec<Figures>; SIDES] = Default::default();
    for round in 0..rounds {
        let forward = round % 2 == 0;
        let mut steps = [
            Step::Pgbench { threads: 1 },
            Step::OneThread,
            Step::TwoThreads,
            Step::Pgbench { threads: 2 },
        ];
        if !forward {
            steps.reverse();
        }
        for step in steps {
            match step {
                Step::Pgbench { threads } => {
                    settle(sandbox).await?;
                    let run =
                        run_pgbench(binaries, sandbox, script, clients, threads, seconds, &[])?;
                    sides[if threads == 1 { PGBENCH_1 } else { PGBENCH_2 }].push(run.figures()?);
                }
                Step::OneThread => {
                    // Events on and off in an ABBA order (BAAB when the round runs backwards),
                    // each side the mean of its two runs.
                    let order = if forward {
                        [true, false, false, true]
                    } else {
                        [false, true, true, false]
                    };
                    let (mut on, mut off) = (Vec::new(), Vec::new());
                    for instrumented in order {
                        let engine = Engine {
                            threads: 1,
                            instrumented,
                        };
                        settle(sandbox).await?;
                        let figures =
                            lifeguard_case(sandbox, case, clients, seconds, engine).await?;
                        if instrumented {
                            on.push(figures);
                        } else {
                            off.push(figures);
                        }
                    }
                    sides[ONE_THREAD].push(Figures::mean(&on));
                    sides[EVENTS_OFF].push(Figures::mean(&off));
                }
                Step::TwoThreads => {
                    let two = Engine {
                        threads: 2,
                        instrumented: true,
                    };
                    settle(sandbox).await?;
                    sides[TWO_THREADS]
                        .push(lifeguard_case(sandbox, case, clients, seconds, two).await?);
                }
            }
        }
    }
    Ok(sides)
}

/// Before every side, the workload's tables vacuumed and a checkpoint taken: no side pays for
/// the dead rows, or the dirty pages, that an earlier side's updates left. pgbench vacuums its
/// own tables before a run for the same reason; it is told not to (`-n`) because these are not
/// its tables.
async fn settle(sandbox: &Sandbox) -> anyhow::Result<()> {
    let (client, connection) = sandbox
        .connect_config()
        .connect(tokio_postgres::NoTls)
        .await?;
    let driving = tokio::spawn(connection);
    // Two queries: VACUUM cannot run in the implicit transaction of a multi-statement one.
    client
        .batch_execute("VACUUM lifeguard.sessions, lifeguard.users")
        .await?;
    client.batch_execute("CHECKPOINT").await?;
    drop(client);
    driving.await??;
    Ok(())
}

/// How the open model kept its schedule at one rate: lag behind it and arrivals dropped.
#[derive(Debug, Clone, Copy)]
struct Kept {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    dropped: f64,
    started: f64,
    /// Requests served a second over the whole phase (the queue's drain after the last arrival
    /// included), and the client CPU each took.
    served_per_s: f64,
    cpu_us: f64,
}

/// The select-only case as an open model at `rate_per_s` for `seconds` on one engine thread.
async fn open_side(
    sandbox: &Sandbox,
    clients: u32,
    rate_per_s: f64,
    seconds: u64,
) -> anyhow::Result<Kept> {
    let mut plan = plan(sandbox, clients, seconds, true, 1);
    let before = Usage::now();
    #[expect(clippy::cast_precision_loss, reason = "a few seconds")]
    let duration_s = seconds as f64;
    plan.suite.scenarios[0].load = lifeguard_shared::suite::Load::Open {
        rate_per_s,
        duration_s,
        // Room for every request a stall queues: what is dropped then is the engine's doing.
        max_in_flight: 100_000,
    };
    let output = run_with(plan, SelectOnly, None, Abort::new()).await?;
    let scenario = &output.report.scenarios[0];
    let schedule = scenario
        .schedule
        .as_ref()
        .context("an open model reports its schedule")?;
    #[expect(clippy::cast_precision_loss, reason = "counts of requests")]
    let (dropped, started) = (scenario.outcomes.dropped as f64, schedule.started as f64);
    let spent = before.spent();
    #[expect(clippy::cast_precision_loss, reason = "counts of requests")]
    let served = scenario.outcomes.ok as f64;
    Ok(Kept {
        served_per_s: served / scenario.duration_s,
        cpu_us: per_request_us(spent.own, served),
        p50_ms: schedule.lag_p50_ms,
        p99_ms: schedule.lag_p99_ms,
        max_ms: schedule.lag_max_ms,
        dropped,
        started,
    })
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
    print_header(seconds, rounds);
    let mut lowest = f64::INFINITY;
    let mut lowest_two = f64::INFINITY;
    let mut costliest_cpu = f64::NEG_INFINITY;
    let mut costliest = f64::NEG_INFINITY;
    let mut select_only_10 = false;
    // The cheapest case's CPU per transaction with events off: what events add weighs most
    // against it.
    let mut cheapest_off = f64::INFINITY;
    let chosen = std::env::var("LIFEGUARD_BENCH_CASES").ok();
    for (case, script) in [("select-only", SELECT_ONLY), ("auth-flow", AUTH_FLOW)] {
        for clients in [10, 20] {
            if chosen
                .as_deref()
                .is_some_and(|chosen| !chosen.split(',').any(|c| c == format!("{case}:{clients}")))
            {
                continue;
            }
            let sides =
                measure(&binaries, &sandbox, case, script, clients, rounds, seconds).await?;
            // Ratios pair sides measured minutes apart at most, within one round: the median of
            // those ratios follows the engine, not the neighbours' load drifting between rounds.
            let each_round =
                |of: &dyn Fn(usize) -> f64| (0..sides[PGBENCH_1].len()).map(of).collect::<Vec<_>>();
            let paired = |of: &dyn Fn(usize) -> f64| median(each_round(of));
            let by_round_one =
                each_round(&|r| sides[ONE_THREAD][r].per_s / sides[PGBENCH_1][r].per_s);
            let by_round_two =
                each_round(&|r| sides[TWO_THREADS][r].per_s / sides[PGBENCH_2][r].per_s);
            let (ratio, ratio_two) = (median(by_round_one.clone()), median(by_round_two.clone()));
            let cpu_ratio = paired(&|r| sides[ONE_THREAD][r].cpu_us / sides[PGBENCH_1][r].cpu_us);
            let instr_cpu =
                paired(&|r| sides[ONE_THREAD][r].cpu_us / sides[EVENTS_OFF][r].cpu_us - 1.0)
                    * 100.0;
            lowest = lowest.min(ratio);
            lowest_two = lowest_two.min(ratio_two);
            costliest_cpu = costliest_cpu.max(cpu_ratio);
            costliest = costliest.max(instr_cpu);
            let [j1, one, off, two, j2] = sides.map(|rounds| Figures::median(&rounds));
            if case == "select-only" && clients == 10 {
                select_only_10 = true;
            }
            cheapest_off = cheapest_off.min(off.cpu_us);
            print_case(
                case,
                clients,
                &[j1, one, off, two, j2],
                [ratio, ratio_two, cpu_ratio, instr_cpu],
                [&by_round_one, &by_round_two],
            );
        }
    }
    println!(
        "latencies in ms; cpu µs = client CPU (user + system) per transaction; under each case, \
         per transaction: sw = the machine's context switches, x = interrupts between cores \
         (mostly a wake-up sent to the other core)"
    );
    println!(
        "×j1, ×j2, cpu×: medians over the rounds of one engine thread's throughput against pgbench \
         -j 1, two's against -j 2, and one's client CPU per transaction against -j 1's; events: \
         the client CPU pool events add (one thread, on vs off)"
    );
    // The open model against the closed model's throughput on one engine thread.
    let shares = open_shares(chosen.as_deref(), select_only_10);
    if !shares.is_empty() {
        open_model(&binaries, &sandbox, &shares, rounds, seconds).await?;
    }
    let events_us = events_cost_us(&sandbox).await?;
    sandbox.stop().await;
    if !cheapest_off.is_finite() {
        // Only the open model was asked for: no case to weigh events against, no ratios.
        println!("pool events measured alone: {events_us:.3} µs per request");
        return Ok(());
    }
    println!(
        "pool events measured alone (1M check-outs of an idle connection, on vs off, collected): \
         {:.3} µs per request, {:.1}% of the cheapest case's {cheapest_off:.1} µs per transaction",
        events_us,
        events_us / cheapest_off * 100.0
    );
    println!("instrumentation cost (client CPU, the highest of the cases): {costliest:.1}%");
    println!("lifeguard/pgbench throughput ratio: {lowest:.2}");
    println!("lifeguard/pgbench -j 2 throughput ratio: {lowest_two:.2}");
    println!("cpu per transaction ratio: {costliest_cpu:.2}");
    Ok(())
}

/// The open model on the select-only case at 10 clients, at shares of the closed model's
/// throughput on one engine thread measured just before it, in the same round: this machine's
/// pace drifts by a fifth within minutes, and a rate set from a faster moment would ask more
/// than the machine then serves. How late requests started, and what was dropped; beside it
/// pgbench's own schedule lag at the same rate (`--rate`, one thread) on the same server and
/// machine.
async fn open_model(
    binaries: &ServerBinaries,
    sandbox: &Sandbox,
    shares: &[f64],
    rounds: u64,
    seconds: u64,
) -> anyhow::Result<()> {
    println!(
        "open model, select-only, 10 clients, one engine thread, at shares of its closed-model \
         throughput measured just before (lag: actual start behind the intended one, ms; medians \
         over the rounds); pgbench: --rate, -j 1"
    );
    println!(
        "{:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8}",
        "share",
        "rate/s",
        "started",
        "dropped",
        "lag p50",
        "lag p99",
        "lag max",
        "pgb p50",
        "pgb p99",
        "pgb max"
    );
    let one_thread = Engine {
        threads: 1,
        instrumented: true,
    };
    for &share in shares {
        let mut rates = Vec::new();
        let mut kept = Vec::new();
        let mut reference = Vec::new();
        let mut closed_runs = Vec::new();
        for _ in 0..rounds {
            settle(sandbox).await?;
            let closed = lifeguard_case(sandbox, "select-only", 10, seconds, one_thread).await?;
            let rate = (closed.per_s * share).floor();
            closed_runs.push(closed);
            rates.push(rate);
            settle(sandbox).await?;
            kept.push(open_side(sandbox, 10, rate, seconds).await?);
            settle(sandbox).await?;
            reference.push(pgbench_lag(binaries, sandbox, rate, seconds)?);
        }
        let of = |key: fn(&Kept) -> f64| median(kept.iter().map(key).collect());
        let pgb = |at: usize| median(reference.iter().map(|r| r[at]).collect());
        println!(
            "{:>5.0}% {:>8.0} {:>8.0} {:>8.0} {:>8.3} {:>8.3} {:>8.3} | {:>8.3} {:>8.3} {:>8.3}",
            share * 100.0,
            median(rates),
            of(|k| k.started),
            of(|k| k.dropped),
            of(|k| k.p50_ms),
            of(|k| k.p99_ms),
            of(|k| k.max_ms),
            pgb(0),
            pgb(1),
            pgb(2),
        );
        println!(
            "       | served/s {:.0} at {:.1} µs client CPU each (closed: {:.0}/s at {:.1} µs)",
            of(|k| k.served_per_s),
            of(|k| k.cpu_us),
            median(closed_runs.iter().map(|c| c.per_s).collect()),
            median(closed_runs.iter().map(|c| c.cpu_us).collect()),
        );
        println!(
            "       | round by round: lag p99 {}; dropped {}",
            kept.iter()
                .map(|k| format!("{:.3}", k.p99_ms))
                .collect::<Vec<_>>()
                .join(" "),
            kept.iter()
                .map(|k| format!("{:.0}", k.dropped))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    Ok(())
}

/// The shares of the closed model's throughput the open model runs at: every one after the
/// select-only case at 10 clients, or those `LIFEGUARD_BENCH_CASES` names (`open`: every one,
/// `open:<percent>`: that one).
fn open_shares(chosen: Option<&str>, select_only_10: bool) -> Vec<f64> {
    const EVERY: [f64; 5] = [0.25, 0.5, 0.75, 0.9, 1.0];
    let Some(chosen) = chosen else {
        return EVERY.to_vec();
    };
    let mut shares = Vec::new();
    for case in chosen.split(',') {
        match case.strip_prefix("open") {
            Some("") => shares.extend(EVERY),
            Some(percent) => {
                if let Some(percent) = percent
                    .strip_prefix(':')
                    .and_then(|p| p.parse::<f64>().ok())
                {
                    shares.push(percent / 100.0);
                }
            }
            None => {}
        }
    }
    if shares.is_empty() && select_only_10 {
        shares.extend(EVERY);
    }
    shares
}

/// pgbench's schedule lag on the select-only script at `rate` per second with 10 clients on one
/// thread: p50, p99 and max, in ms.
fn pgbench_lag(
    binaries: &ServerBinaries,
    sandbox: &Sandbox,
    rate: f64,
    seconds: u64,
) -> anyhow::Result<[f64; 3]> {
    let rate = format!("{rate:.0}");
    let ran = run_pgbench(
        binaries,
        sandbox,
        SELECT_ONLY,
        10,
        1,
        seconds,
        &["--rate", &rate],
    )?;
    let lags = per_transaction_column(ran.logs.path(), SCHEDULE_LAG_COLUMN)?;
    let at = |permille| permille_ms(&lags, permille);
    Ok([at(500), at(990), at(1000)])
}

/// Pool events' own cost, away from the network's noise: `CHECKOUTS` check-outs and check-ins of
/// the one idle connection of a pre-warmed pool, with events on and off, while a collector on a
/// thread of its own drains and folds them as in a run. The client CPU the events add per
/// request, in µs (a request emits the same events, whatever its statements). The on/off sides
/// of the table measure the same through the network, where a 5 s side's CPU per transaction
/// moves by a few percent with the server's pace.
async fn events_cost_us(sandbox: &Sandbox) -> anyhow::Result<f64> {
    const CHECKOUTS: u32 = 1_000_000;
    // A pause every `BATCH` keeps each pool buffer under its capacity between two drains (3
    // events a request), so every event is paid for; the side fails if one was dropped.
    const BATCH: u32 = 5_000;
    let mut cpu_per_request = [0.0; 2];
    for (side, instrumented) in [(0, true), (1, false), (0, true), (1, false)] {
        let pool = Pool::new(
            PoolRole::Primary,
            pool_settings(1),
            sandbox.connect_config(),
            instrumented,
        );
        pool.prewarm().await?;
        let finish = CancellationToken::new();
        let collecting = {
            let collector = Collector::new(
                std::time::Instant::now(),
                vec!["events".into()],
                Arc::new(PhaseClock::default()),
                vec![pool.clone()],
                ServerReport::default(),
                None,
            );
            let (_observing, observations) = tokio::sync::mpsc::channel(1);
            let finish = finish.clone();
            std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|runtime| {
                        runtime.block_on(collector.run(Samples::new(1), observations, None, finish))
                    })
            })
        };
        let before = Usage::now();
        for done in 1..=CHECKOUTS {
            drop(pool.checkout().await?);
            if done % BATCH == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        finish.cancel();
        let collected = collecting
            .join()
            .map_err(|_| anyhow::anyhow!("the collector panicked"))??;
        let used = before.spent().own;
        anyhow::ensure!(
            pool.stats().dropped_events == 0,
            "events were dropped: the measure would understate their cost"
        );
        anyhow::ensure!(
            !instrumented || collected.phases[0].peak.checked_out == 1,
            "the collector saw no check-out"
        );
        pool.close();
        cpu_per_request[side] += used.as_secs_f64() * 1e6 / f64::from(CHECKOUTS) / 2.0;
    }
    Ok(cpu_per_request[0] - cpu_per_request[1])
}

/// A case's row of the table, medians over the rounds; under it the machine's CPU, and the
/// throughput ratios round by round (how far apart the rounds were).
fn print_case(
    case: &str,
    clients: u32,
    sides: &[Figures; SIDES],
    ratios: [f64; 4],
    by_round: [&[f64]; 2],
) {
    let [j1, one, off, two, j2] = sides;
    let [ratio, ratio_two, cpu_ratio, instr_cpu] = ratios;
    println!(
        "{case:<12} {clients:>3} | {:>8.0} {:>5.2} {:>5.2} {:>6.1} | {:>8.0} {:>5.2} {:>5.2} {:>6.1} | {:>8.0} {:>6.1} | {:>8.0} {:>5.2} {:>5.2} {:>6.1} | {:>8.0} {:>5.2} {:>5.2} {:>6.1} | {ratio:>5.2} {ratio_two:>5.2} {cpu_ratio:>5.2} {instr_cpu:>5.1}%",
        j1.per_s,
        j1.p50_ms,
        j1.p95_ms,
        j1.cpu_us,
        one.per_s,
        one.p50_ms,
        one.p95_ms,
        one.cpu_us,
        off.per_s,
        off.cpu_us,
        two.per_s,
        two.p50_ms,
        two.p95_ms,
        two.cpu_us,
        j2.per_s,
        j2.p50_ms,
        j2.p95_ms,
        j2.cpu_us,
    );
    print_machine(sides);
    let listed = |ratios: &[f64]| {
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "{:<16} | round by round: ×j1 {}; ×j2 {}",
        "",
        listed(by_round[0]),
        listed(by_round[1])
    );
}

/// Under a case's row, the whole machine's CPU per transaction on each side, with the client's
/// share of it: two threads fill this machine's two cores, and throughput then follows what
/// the machine spends per transaction, client and server together.
fn print_machine(sides: &[Figures; SIDES]) {
    let side = |index: usize| {
        let side = &sides[index];
        format!(
            "{:.1} (client {:.1}; {:.2} sw, {:.2} x)",
            side.machine_us, side.cpu_us, side.switches, side.crossings
        )
    };
    println!(
        "{:<16} | machine µs per tx: 1 thread {} vs -j 1 {}; 2 threads {} vs -j 2 {}",
        "",
        side(ONE_THREAD),
        side(PGBENCH_1),
        side(TWO_THREADS),
        side(PGBENCH_2),
    );
}

/// What the table below measures, and its columns.
fn print_header(seconds: u64, rounds: u64) {
    println!(
        "{seconds} s per side, {rounds} rounds; lifeguard: closed model, pool = clients, \
         pre-warmed, on one engine thread (events on, and off) and on two; pgbench -M prepared \
         with one thread (-j 1, one engine thread's reference) and two (-j 2, two's)"
    );
    println!(
        "{:<12} {:>3} | {:>8} {:>5} {:>5} {:>6} | {:>8} {:>5} {:>5} {:>6} | {:>8} {:>6} | {:>8} {:>5} {:>5} {:>6} | {:>8} {:>5} {:>5} {:>6} | {:>5} {:>5} {:>5} {:>6}",
        "case",
        "cl.",
        "pgb -j1",
        "p50",
        "p95",
        "cpu µs",
        "lg 1 thr",
        "p50",
        "p95",
        "cpu µs",
        "evts off",
        "cpu µs",
        "lg 2 thr",
        "p50",
        "p95",
        "cpu µs",
        "pgb -j2",
        "p50",
        "p95",
        "cpu µs",
        "×j1",
        "×j2",
        "cpu×",
        "events",
    );
}
