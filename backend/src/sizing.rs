//! Sizing a pool by measurement: bisection for the smallest pool (without overflow) that meets
//! every rule of the suite at its load, then at the headroom load, each point a real run and each
//! boundary run twice; the recommendation keeps the first and overflows to the second, and is
//! confirmed by a run of its own at the headroom load. Two probes above give the knee, and no
//! size goes past the server's connection budget that the runs read.
//!
//! Beside [`sweep`]: [`check`] (a profile and one connection fewer, for pipelines) and [`grid`]
//! (every size once: the reference the benchmark compares the search with).
//!
//! None of them knows how a point is run: the caller measures it (here, through a console server,
//! or in the console itself, [`crate::sizings`]), so every point is a stored run with its charts
//! and comparisons.

use std::future::Future;

use lifeguard_shared::invalid::Invalid;
use lifeguard_shared::pool::PoolProfile;
use lifeguard_shared::sizing::{
    Adjustment, Budget, Formula, Knee, Sizing, SizingPoint, SizingRequest,
};
use lifeguard_shared::suite::Suite;

/// Runs above the headroom's size, for the knee.
pub const KNEE_PROBES: u32 = 2;

/// What a sweep varies and within which bounds.
#[derive(Debug, Clone)]
pub struct SweepPlan {
    pub target: String,
    pub suite: Suite,
    pub profile: PoolProfile,
    /// The load factor the plan must also survive.
    pub headroom: f64,
    /// The primary pool's timeout at every point.
    pub pool_timeout_s: f64,
    /// Most runs the sweep may make.
    pub max_points: u32,
    /// The formula's "base concurrent requests" to set the answer beside.
    pub base_concurrency: u32,
    /// What the server gives each replica's primary pool, read before the first run (see
    /// [`Budget::of`]): no point opens more. Each run reads it again.
    pub budget: Option<Budget>,
}

impl SweepPlan {
    /// The plan `request` asks for, with the suite and profile its names gave; its rules
    /// checked, each error naming its field.
    pub fn for_request(
        request: &SizingRequest,
        suite: Suite,
        profile: PoolProfile,
    ) -> Result<Self, Invalid> {
        request.validate()?;
        let pool_timeout_s = request
            .pool_timeout_s
            .unwrap_or(profile.primary.pool_timeout_s);
        let mut profile = profile;
        profile.replicas = request.replicas.unwrap_or(profile.replicas);
        let mut plan = Self {
            target: request.target.clone(),
            suite,
            profile,
            headroom: request.headroom,
            pool_timeout_s,
            max_points: request.max_points,
            base_concurrency: 0,
            budget: None,
        };
        plan.base_concurrency = request
            .base_concurrency
            .unwrap_or_else(|| plan.largest(1.0));
        Ok(plan)
    }

    /// The largest pool tried at `factor`: one connection per concurrent user of the heaviest
    /// scenario, where no checkout ever waits (in each replica too: requests are spread in
    /// turn, not by how busy a replica is, so one may hold more than its share).
    #[must_use]
    pub fn largest(&self, factor: f64) -> u32 {
        let adjusted = Adjustment {
            load_factor: Some(factor),
            ..Adjustment::default()
        };
        adjusted
            .suite(&self.suite)
            .scenarios
            .iter()
            .map(|s| s.load.concurrency())
            .max()
            .unwrap_or(1)
            .max(1)
    }

    /// Runs the sweep may need when the figures are consistent: each bisection's probes, its
    /// unproven upper end, the boundary's second run and one more probe should that fail; and
    /// the run of the recommendation. The sweep stops at `max_points` whatever happens.
    #[must_use]
    pub fn worst_case_points(&self) -> u32 {
        let probes = |span: u32| u32::BITS - span.leading_zeros() + 3;
        probes(self.largest(1.0)) + probes(self.largest(self.headroom)) + KNEE_PROBES + 1
    }

    /// Refuses a sweep that could exceed its budget of points before it starts, naming it.
    pub fn check_budget(&self) -> Result<(), Invalid> {
        let needed = self.worst_case_points();
        if needed > self.max_points {
            return Err(Invalid::new(
                "max_points",
                format!(
                    "this sweep may need {needed} runs (pools up to {} at 1×, {} at {}×), above \
                     the budget of {}",
                    self.largest(1.0),
                    self.largest(self.headroom),
                    self.headroom,
                    self.max_points
                ),
            ));
        }
        Ok(())
    }

    fn point(&self, pool_size: u32, max_overflow: u32, factor: f64) -> Adjustment {
        Adjustment {
            pool_size: Some(pool_size),
            max_overflow: Some(max_overflow),
            pool_timeout_s: Some(self.pool_timeout_s),
            load_factor: Some(factor),
            replicas: Some(self.profile.replicas),
        }
    }
}

/// The smallest size in `(failing, upper]` that passes twice: bisection on single runs, then the
/// boundary measured again. Near the boundary a run's figures sit near a rule's limit, where noise
/// decides; a boundary that does not hold on its second run is taken as failing, and the search
/// goes on above it. `upper` is assumed to pass until measured.
#[derive(Debug, Clone)]
struct Bisection {
    failing: u32,
    upper: u32,
    /// Sizes measured passing once, ascending.
    passed: Vec<u32>,
}

impl Bisection {
    fn new(failing: u32, upper: u32) -> Self {
        Self {
            failing,
            upper,
            passed: Vec::new(),
        }
    }

    /// The smallest size above `failing` believed to pass.
    fn passing(&self) -> u32 {
        self.passed
            .iter()
            .copied()
            .find(|&s| s > self.failing)
            .unwrap_or(self.upper)
    }

    /// The size to measure next.
    fn next(&self) -> u32 {
        let passing = self.passing();
        if passing - self.failing > 1 {
            self.failing + (passing - self.failing) / 2
        } else {
            passing
        }
    }

    /// No size above `limit` (the server's budget): `false` when nothing is left in range.
    fn cap(&mut self, limit: u32) -> bool {
        if limit < self.upper {
            self.upper = limit;
            self.passed.retain(|&s| s <= limit);
        }
        self.failing < self.upper
    }

    /// Records a run and says what it decided.
    fn record(&mut self, size: u32, passed: bool) -> Step {
        if passed {
            if self.passed.contains(&size) {
                return Step::Found(size);
            }
            let at = self.passed.partition_point(|&s| s < size);
            self.passed.insert(at, size);
        } else if size >= self.upper {
            return Step::NoneInRange;
        } else {
            self.failing = self.failing.max(size);
        }
        Step::Continue
    }
}

/// What a run told a [`Bisection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Continue,
    /// This size passed twice.
    Found(u32),
    /// Even the upper end failed.
    NoneInRange,
}

/// Measures points with `measure` until the sizes are found or the budget is spent.
pub async fn sweep<F, Fut>(plan: &SweepPlan, mut measure: F) -> anyhow::Result<Sizing>
where
    F: FnMut(Adjustment) -> Fut,
    Fut: Future<Output = anyhow::Result<SizingPoint>>,
{
    let mut sizing = nothing_measured(plan);
    let largest = plan.largest(1.0);
    let Some(at_load) = smallest(plan, &mut measure, &mut sizing, 0, largest, 1.0).await? else {
        sizing.summary = out_of_range(&sizing, largest, 1.0);
        return Ok(sizing);
    };
    sizing.at_load = Some(at_load);
    sizing.little = sizing
        .points
        .iter()
        .find(|p| p.pool_size == at_load && same(p.load_factor, 1.0) && p.passed)
        .and_then(|p| p.little);
    let highest = plan.largest(plan.headroom).max(at_load);
    let found = smallest(
        plan,
        &mut measure,
        &mut sizing,
        at_load - 1,
        highest,
        plan.headroom,
    )
    .await?;
    let Some(at_headroom) = found else {
        sizing.summary = out_of_range(&sizing, highest, plan.headroom);
        return Ok(sizing);
    };
    sizing.at_headroom = Some(at_headroom);
    knee_probes(plan, &mut measure, &mut sizing, at_headroom, highest).await?;
    sizing.knee = Knee::of(&sizing.points, plan.headroom);
    let overflow = at_headroom - at_load;
    let (pool_size, max_overflow) = if overflow == 0 {
        (at_load, 0)
    } else {
        // Overflow connections are opened and closed under the burst: prove the plan survives
        // that churn, else keep the headroom's connections open.
        if sizing.points.len() >= plan.max_points as usize {
            sizing.summary = budget_spent(plan);
            return Ok(sizing);
        }
        let confirmed = measure(plan.point(at_load, overflow, plan.headroom)).await?;
        let passed = confirmed.passed;
        sizing.points.push(confirmed);
        if passed {
            (at_load, overflow)
        } else {
            (at_headroom, 0)
        }
    };
    let mut recommended = Adjustment {
        load_factor: None,
        ..plan.point(pool_size, max_overflow, 1.0)
    }
    .profile(&plan.profile);
    recommended.name = format!("{}-sized", plan.profile.name);
    recommended.description = format!(
        "Sized by lifeguard from `{}`: `{}` passes with {} at its load, {at_headroom} at {}×{}.",
        plan.profile.name,
        plan.suite.name,
        connections(at_load),
        plan.headroom,
        each_replica(plan)
    );
    sizing.summary = found_summary(
        plan,
        &sizing,
        (at_load, at_headroom),
        (pool_size, max_overflow),
    );
    sizing.recommendation = Some(recommended);
    sizing.formula = Some(beside_the_formula(plan, &sizing, at_load, at_headroom));
    Ok(sizing)
}

/// The sentence of a found recommendation: the sizes at both loads, the plan, what it takes of
/// the server with several replicas, and where the knee stands.
fn found_summary(
    plan: &SweepPlan,
    sizing: &Sizing,
    (at_load, at_headroom): (u32, u32),
    (pool_size, max_overflow): (u32, u32),
) -> String {
    let overflow = at_headroom - at_load;
    let knee = sizing.knee.map_or_else(String::new, |knee| {
        if knee.pool_size < at_headroom {
            format!(
                "; at {}× throughput stops rising at {} connections ({:.0} of the best {:.0} \
                 req/s, at {}): past it more connections queue inside the server, and the rules \
                 still needed {at_headroom}",
                plan.headroom, knee.pool_size, knee.throughput_rps, knee.best_rps, knee.best_at
            )
        } else {
            format!(
                "; at {}× throughput rises up to {} connections ({:.0} req/s), beyond the \
                 recommendation",
                plan.headroom, knee.pool_size, knee.throughput_rps
            )
        }
    });
    let fleet = match sizing.budget {
        Some(budget) if plan.profile.replicas > 1 => format!(
            " ({} × {} = {} connections at most, within the server's {} per replica)",
            plan.profile.replicas,
            pool_size + max_overflow,
            plan.profile.replicas * (pool_size + max_overflow),
            budget.primary
        ),
        _ => String::new(),
    };
    format!(
        "Every rule holds with {} at the suite's load and {at_headroom} at {}×{} (pool_timeout {} \
         s){}: pool_size = {pool_size}, max_overflow = {max_overflow}{fleet}{knee}",
        connections(at_load),
        plan.headroom,
        each_replica(plan),
        plan.pool_timeout_s,
        if overflow > 0 && max_overflow == 0 {
            "; with overflow instead of kept connections the headroom run failed, so all are kept"
        } else {
            ""
        }
    )
}

/// The analysis's formula for the plan's base concurrency, with the measured reason the answer
/// differs.
fn beside_the_formula(
    plan: &SweepPlan,
    sizing: &Sizing,
    at_load: u32,
    at_headroom: u32,
) -> Formula {
    let mut formula = Formula::of(plan.base_concurrency);
    let needed = format!(
        "measured, every rule holds with {} at the load and {at_headroom} at {}×",
        connections(at_load),
        plan.headroom
    );
    let held = sizing.little.map(|little| {
        format!(
            "a request holds its connection {:.2} ms, so at {:.0} req/s {:.1} are busy on average",
            little.hold_ms, little.arrival_rps, little.connections
        )
    });
    formula.explanation = match held {
        Some(held) if formula.pool_size > at_headroom => format!(
            "The formula's {} ({} concurrent users × {} × {}) counts a connection per user for the \
             whole request; {held}: {needed}.",
            formula.pool_size,
            plan.base_concurrency,
            Formula::AUTH_MULTIPLIER,
            Formula::SAFETY
        ),
        Some(held) => format!(
            "The formula's {} ({} concurrent users × {} × {}) is too few: {held}, and queueing \
             for the rest breaks the rules — {needed}.",
            formula.pool_size,
            plan.base_concurrency,
            Formula::AUTH_MULTIPLIER,
            Formula::SAFETY
        ),
        None => format!("The formula gives {}; {needed}.", formula.pool_size),
    };
    formula
}

/// Every size from one to the largest at both loads, once each, within the server's budget: the
/// reference the adaptive sweep is measured against. The answer at a load is the smallest size
/// from which every larger size measured passed.
pub async fn grid<F, Fut>(plan: &SweepPlan, mut measure: F) -> anyhow::Result<Sizing>
where
    F: FnMut(Adjustment) -> Fut,
    Fut: Future<Output = anyhow::Result<SizingPoint>>,
{
    let mut sizing = nothing_measured(plan);
    let mut answers = Vec::new();
    for factor in [1.0, plan.headroom] {
        for size in 1..=plan.largest(factor) {
            if sizing.budget.is_some_and(|b| size > b.primary) {
                break;
            }
            let point = measure(plan.point(size, 0, factor)).await?;
            if let Some(budget) = point.budget {
                sizing.budget = Some(budget);
            }
            sizing.points.push(point);
        }
        let mut answer = None;
        for point in sizing.points.iter().rev() {
            if !same(point.load_factor, factor) {
                continue;
            }
            if !point.passed {
                break;
            }
            answer = Some(point.pool_size);
        }
        answers.push(answer);
    }
    sizing.at_load = answers[0];
    sizing.at_headroom = answers[1];
    sizing.knee = Knee::of(&sizing.points, plan.headroom);
    let said = |answer: Option<u32>| answer.map_or_else(|| "none".to_owned(), |a| a.to_string());
    sizing.summary = format!(
        "A grid of {} runs: smallest passing from there up {} at the suite's load, {} at {}×",
        sizing.points.len(),
        said(sizing.at_load),
        said(sizing.at_headroom),
        plan.headroom
    );
    Ok(sizing)
}

/// Runs a grid takes: every size at both loads.
#[must_use]
pub fn grid_points(plan: &SweepPlan) -> u32 {
    plan.largest(1.0) + plan.largest(plan.headroom)
}

/// Measures up to [`KNEE_PROBES`] sizes above `found` at the headroom load (doubling, up to
/// `highest` and the server's budget) that the search did not, so the knee has points past the
/// recommendation to show.
async fn knee_probes<F, Fut>(
    plan: &SweepPlan,
    measure: &mut F,
    sizing: &mut Sizing,
    found: u32,
    highest: u32,
) -> anyhow::Result<()>
where
    F: FnMut(Adjustment) -> Fut,
    Fut: Future<Output = anyhow::Result<SizingPoint>>,
{
    let cap = sizing.budget.map_or(highest, |b| b.primary.min(highest));
    let mut size = found;
    for _ in 0..KNEE_PROBES {
        size = size.saturating_mul(2).min(cap);
        let measured = sizing
            .points
            .iter()
            .any(|p| p.pool_size == size && same(p.load_factor, plan.headroom));
        if size <= found || sizing.points.len() >= plan.max_points as usize {
            break;
        }
        if !measured {
            let point = measure(plan.point(size, 0, plan.headroom)).await?;
            sizing.points.push(point);
        }
    }
    Ok(())
}

/// Checks `plan.profile` as it is (its overflow; the plan's timeout): at the suite's load and at
/// the headroom, then one kept connection fewer the same way. `Ok(true)` when the profile passes
/// both; the summary also says whether it is the smallest that does.
pub async fn check<F, Fut>(plan: &SweepPlan, mut measure: F) -> anyhow::Result<(Sizing, bool)>
where
    F: FnMut(Adjustment) -> Fut,
    Fut: Future<Output = anyhow::Result<SizingPoint>>,
{
    let mut sizing = nothing_measured(plan);
    let primary = &plan.profile.primary;
    let (size, overflow) = (primary.pool_size, primary.max_overflow);
    let name = &plan.profile.name;
    let loads = [1.0, plan.headroom];
    // The first load that fails `size + overflow`, if any.
    let mut fails_at = async |sizing: &mut Sizing, size: u32| -> anyhow::Result<Option<String>> {
        for factor in loads {
            let point = measure(plan.point(size, overflow, factor)).await?;
            let failed =
                (!point.passed).then(|| format!("{factor}× ({})", point.failed.join(", ")));
            sizing.points.push(point);
            if failed.is_some() {
                return Ok(failed);
            }
        }
        Ok(None)
    };
    if let Some(why) = fails_at(&mut sizing, size).await? {
        sizing.summary = format!("`{name}` ({size} + {overflow}) fails at {why}");
        return Ok((sizing, false));
    }
    sizing.at_load = Some(size);
    sizing.little = sizing.points.first().and_then(|p| p.little);
    sizing.summary = if size <= 1 {
        format!(
            "`{name}` ({size} + {overflow}) passes at 1× and {}×",
            plan.headroom
        )
    } else {
        match fails_at(&mut sizing, size - 1).await? {
            Some(why) => format!(
                "`{name}` ({size} + {overflow}) passes at 1× and {}×, and {} + {overflow} fails \
                 at {why}: it is the smallest that passes",
                plan.headroom,
                size - 1
            ),
            None => format!(
                "`{name}` ({size} + {overflow}) passes at 1× and {}×, but so does {} + \
                 {overflow}: it is larger than needed (`lifeguard size` finds the smallest)",
                plan.headroom,
                size - 1
            ),
        }
    };
    Ok((sizing, true))
}

/// Searches `(failing, passing]` at `factor` (see [`Bisection`]); `None` when nothing in range
/// passes or the budget ran out.
async fn smallest<F, Fut>(
    plan: &SweepPlan,
    measure: &mut F,
    sizing: &mut Sizing,
    failing: u32,
    passing: u32,
    factor: f64,
) -> anyhow::Result<Option<u32>>
where
    F: FnMut(Adjustment) -> Fut,
    Fut: Future<Output = anyhow::Result<SizingPoint>>,
{
    let mut search = Bisection::new(failing, passing);
    // The budget an earlier run read holds here too (the first run of a sweep reads it).
    if let Some(budget) = sizing.budget
        && !search.cap(budget.primary)
    {
        return Ok(None);
    }
    loop {
        if sizing.points.len() >= plan.max_points as usize {
            return Ok(None);
        }
        let size = search.next();
        let point = measure(plan.point(size, 0, factor)).await?;
        let passed = point.passed;
        let budget = point.budget;
        sizing.points.push(point);
        let step = search.record(size, passed);
        if let Some(budget) = budget {
            sizing.budget = Some(budget);
            if !search.cap(budget.primary) {
                return Ok(None);
            }
        }
        match step {
            Step::Found(found) if found <= search.upper => return Ok(Some(found)),
            Step::NoneInRange => return Ok(None),
            Step::Found(_) | Step::Continue => {}
        }
    }
}

/// ` in each of 4 replicas`, or nothing for one.
fn each_replica(plan: &SweepPlan) -> String {
    match plan.profile.replicas {
        0 | 1 => String::new(),
        n => format!(" in each of {n} replicas"),
    }
}

/// `1 connection`, `12 connections`.
fn connections(n: u32) -> String {
    if n == 1 {
        "1 connection".to_owned()
    } else {
        format!("{n} connections")
    }
}

/// A sizing of `plan` with nothing measured yet.
#[must_use]
pub fn nothing_measured(plan: &SweepPlan) -> Sizing {
    Sizing {
        target: plan.target.clone(),
        suite: plan.suite.name.clone(),
        profile: plan.profile.name.clone(),
        headroom: plan.headroom,
        replicas: plan.profile.replicas,
        pool_timeout_s: plan.pool_timeout_s,
        points: Vec::new(),
        at_load: None,
        at_headroom: None,
        recommendation: None,
        little: None,
        knee: None,
        formula: None,
        budget: plan.budget,
        summary: String::new(),
        criteria: plan.suite.criteria.clone(),
    }
}

/// Load factors are set, not computed: equal when written alike.
fn same(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn budget_spent(plan: &SweepPlan) -> String {
    format!(
        "Stopped at the budget of {} runs before the sizes were found",
        plan.max_points
    )
}

/// Why no size was found: the largest pool tried failed (with its failed rules) — one per
/// concurrent user, or the server's budget when that is smaller — or the budget of runs ran out.
/// Past the server's budget, what would meet the rules: the suite's own answer scaled to this load
/// when it has one (an estimate, and said so), else at least one connection more per replica.
fn out_of_range(sizing: &Sizing, largest: u32, factor: f64) -> String {
    let within_budget = sizing.budget.filter(|b| b.primary < largest);
    let largest = within_budget.map_or(largest, |b| b.primary);
    let failed = sizing
        .points
        .iter()
        .rev()
        .find(|p| p.pool_size == largest && same(p.load_factor, factor));
    let per_replica = if sizing.budget.is_some_and(|b| b.replicas > 1) {
        " per replica"
    } else {
        ""
    };
    match (failed, within_budget) {
        (_, Some(budget)) if budget.primary == 0 => {
            format!(
                "The server has no connection to give the primary pool: {budget}; to give each \
                 replica one: {}",
                budget.to_give(1)
            )
        }
        (Some(point), Some(budget)) => {
            let scaled = sizing
                .at_load
                .filter(|_| factor > 1.0)
                .map(|at_load| (f64::from(at_load) * factor).ceil())
                .filter(|&need| need > f64::from(budget.primary));
            let need = match scaled {
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "a positive count of connections, at most 20 × a u32"
                )]
                Some(need) => format!(
                    "estimated from the suite's load ({} × {factor}, not measured), {need}{per_replica} \
                     would need {}",
                    connections(sizing.at_load.unwrap_or(0)),
                    budget.to_give(need.min(f64::from(u32::MAX)) as u32)
                ),
                None => format!(
                    "more than {largest}{per_replica} needs at least {}",
                    budget.to_give(largest + 1)
                ),
            };
            format!(
                "No pool within the server's budget meets every rule at {factor}× load — the \
                 largest, {largest}{per_replica}, fails: {}; the budget is {budget}; {need}",
                point.failed.join(", ")
            )
        }
        (Some(point), None) => format!(
            "Even {largest} connections (one per concurrent user) fail at {factor}× load: {}; \
             the pool is not what limits this target",
            point.failed.join(", ")
        ),
        (None, _) => format!(
            "Stopped at the budget of {} runs before the sizes were found",
            sizing.points.len()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeguard_shared::report::RunState;
    use lifeguard_shared::sizing::Budget;

    fn plan(max_points: u32) -> SweepPlan {
        SweepPlan {
            target: "sandbox".into(),
            suite: Suite::built_in()
                .into_iter()
                .find(|s| s.name == "auth-burst")
                .unwrap(),
            profile: PoolProfile::built_in().remove(0),
            headroom: 3.0,
            pool_timeout_s: 1.0,
            max_points,
            base_concurrency: 30,
            budget: None,
        }
    }

    /// A target where `passes(size, overflow, factor)` says how each run ends.
    async fn run_against(
        plan: &SweepPlan,
        passes: impl FnMut(u32, u32, f64) -> bool,
    ) -> (Sizing, Vec<(u32, u32, f64)>) {
        run_within(plan, None, passes).await
    }

    /// The same on a server that gives the primary pool `budget` connections.
    async fn run_within(
        plan: &SweepPlan,
        budget: Option<u32>,
        mut passes: impl FnMut(u32, u32, f64) -> bool,
    ) -> (Sizing, Vec<(u32, u32, f64)>) {
        let mut asked = Vec::new();
        let sizing = sweep(plan, |adjust: Adjustment| {
            let size = adjust.pool_size.unwrap();
            let overflow = adjust.max_overflow.unwrap();
            let factor = adjust.load_factor.unwrap();
            asked.push((size, overflow, factor));
            let ended_passed = passes(size, overflow, factor);
            async move {
                Ok(SizingPoint {
                    pool_size: size,
                    max_overflow: overflow,
                    load_factor: factor,
                    run_id: format!("run-{size}-{factor}"),
                    state: if ended_passed {
                        RunState::Passed
                    } else {
                        RunState::Failed
                    },
                    passed: ended_passed,
                    throughput_rps: None,
                    p95_ms: None,
                    acquire_wait_p95_ms: None,
                    little: None,
                    budget: budget.map(|primary| Budget {
                        max_connections: primary + 3,
                        reserved: 3,
                        others: 0,
                        secondary: 0,
                        replicas: 1,
                        primary,
                    }),
                    failed: Vec::new(),
                })
            }
        })
        .await
        .unwrap();
        (sizing, asked)
    }

    #[tokio::test]
    async fn the_boundary_is_found_with_its_neighbour_measured_failing() {
        let plan = plan(40);
        let (sizing, asked) = run_against(&plan, |size, overflow, factor| {
            size + overflow >= if factor > 1.0 { 41 } else { 13 }
        })
        .await;
        assert_eq!(sizing.at_load, Some(13));
        assert_eq!(sizing.at_headroom, Some(41));
        let profile = sizing.recommendation.unwrap();
        assert_eq!(
            (profile.primary.pool_size, profile.primary.max_overflow),
            (13, 28)
        );
        assert!(asked.contains(&(12, 0, 1.0)));
        let twice = asked.iter().filter(|a| **a == (13, 0, 1.0)).count();
        assert_eq!(twice, 2, "the boundary is measured twice: {asked:?}");
        assert!(asked.contains(&(40, 0, 3.0)) && asked.contains(&(41, 0, 3.0)));
        assert_eq!(asked.last(), Some(&(13, 28, 3.0)), "the plan is confirmed");
        assert!(
            asked.len() <= plan.worst_case_points() as usize,
            "{asked:?}"
        );
    }

    #[tokio::test]
    async fn a_target_no_pool_can_save_is_said_so_after_one_run() {
        let plan = plan(40);
        let largest = plan.largest(1.0);
        let (sizing, asked) = run_against(&plan, |_, _, _| false).await;
        assert_eq!(sizing.recommendation, None);
        assert!(sizing.summary.contains("the pool is not what limits"));
        // Bisection first, then the unproven upper end fails: nothing passes.
        assert_eq!(asked.last(), Some(&(largest, 0, 1.0)));
    }

    #[tokio::test]
    async fn a_boundary_that_does_not_hold_on_its_second_run_moves_the_answer_up() {
        let plan = plan(40);
        let mut thirteen = 0;
        let (sizing, asked) = run_against(&plan, |size, overflow, factor| {
            if factor > 1.0 {
                return size + overflow >= 41;
            }
            if size == 13 {
                thirteen += 1;
                return thirteen == 1;
            }
            size >= 14
        })
        .await;
        assert_eq!(sizing.at_load, Some(14), "{asked:?}");
        let fourteen = asked.iter().filter(|a| **a == (14, 0, 1.0)).count();
        assert_eq!(fourteen, 2, "{asked:?}");
    }

    #[tokio::test]
    async fn no_size_above_the_servers_budget_is_tried_or_recommended() {
        let plan = plan(40);
        let (sizing, asked) = run_within(&plan, Some(30), |size, overflow, factor| {
            size + overflow >= if factor > 1.0 { 41 } else { 13 }
        })
        .await;
        assert_eq!(sizing.at_load, Some(13));
        assert_eq!(sizing.recommendation, None);
        assert!(asked.iter().all(|&(size, _, _)| size <= 30), "{asked:?}");
        assert_eq!(
            asked.last(),
            Some(&(30, 0, 3.0)),
            "the budget's edge is measured"
        );
        assert!(
            sizing
                .summary
                .contains("No pool within the server's budget")
                && sizing.summary.contains("max_connections 33")
                && sizing.summary.contains(
                    "estimated from the suite's load (13 connections × 3, not measured), 39 \
                     would need max_connections 42"
                ),
            "{}",
            sizing.summary
        );
    }

    /// `check` of `current` (10 + 20) where `needed(factor)` connections in all are enough.
    async fn check_against(needed: fn(f64) -> u32) -> (Sizing, bool, usize) {
        let plan = plan(40);
        let mut runs = 0;
        let (sizing, passed) = check(&plan, |adjust: Adjustment| {
            runs += 1;
            let point = SizingPoint {
                pool_size: adjust.pool_size.unwrap(),
                max_overflow: adjust.max_overflow.unwrap(),
                load_factor: adjust.load_factor.unwrap(),
                run_id: String::new(),
                state: RunState::Passed,
                passed: adjust.pool_size.unwrap() + adjust.max_overflow.unwrap()
                    >= needed(adjust.load_factor.unwrap()),
                throughput_rps: None,
                p95_ms: None,
                acquire_wait_p95_ms: None,
                little: None,
                budget: None,
                failed: vec!["peak mean_latency_ms".into()],
            };
            async move { Ok(point) }
        })
        .await
        .unwrap();
        (sizing, passed, runs)
    }

    #[tokio::test]
    async fn a_check_says_whether_the_profile_passes_and_whether_it_is_the_smallest() {
        let (sizing, passed, runs) = check_against(|f| if f > 1.0 { 30 } else { 13 }).await;
        assert!(passed && runs == 4, "{}", sizing.summary);
        assert!(
            sizing.summary.contains("9 + 20 fails at 3×"),
            "{}",
            sizing.summary
        );
        assert!(sizing.summary.contains("it is the smallest"));

        let (sizing, passed, _) = check_against(|f| if f > 1.0 { 25 } else { 13 }).await;
        assert!(
            passed && sizing.summary.contains("larger than needed"),
            "{}",
            sizing.summary
        );

        let (sizing, passed, runs) = check_against(|_| 31).await;
        assert!(!passed && runs == 1, "{}", sizing.summary);
        assert!(
            sizing
                .summary
                .contains("fails at 1× (peak mean_latency_ms)")
        );
    }

    #[tokio::test]
    async fn a_grid_answers_the_smallest_size_from_which_all_larger_pass() {
        let plan = plan(400);
        let (sizing, asked) = {
            let mut asked = Vec::new();
            let sizing = grid(&plan, |adjust: Adjustment| {
                let (size, factor) = (adjust.pool_size.unwrap(), adjust.load_factor.unwrap());
                asked.push((size, factor));
                // 13 passes by luck below the real boundary of 15 at 1×.
                let passed = if factor > 1.0 {
                    size >= 41
                } else {
                    size == 13 || size >= 15
                };
                let point = SizingPoint {
                    pool_size: size,
                    max_overflow: 0,
                    load_factor: factor,
                    run_id: String::new(),
                    state: RunState::Passed,
                    passed,
                    throughput_rps: None,
                    p95_ms: None,
                    acquire_wait_p95_ms: None,
                    little: None,
                    budget: None,
                    failed: Vec::new(),
                };
                async move { Ok(point) }
            })
            .await
            .unwrap();
            (sizing, asked)
        };
        assert_eq!((sizing.at_load, sizing.at_headroom), (Some(15), Some(41)));
        assert_eq!(asked.len(), grid_points(&plan) as usize);
    }

    #[test]
    fn a_budget_too_small_for_the_worst_case_is_refused_naming_it() {
        let error = plan(5).check_budget().unwrap_err();
        assert_eq!(error.field, "max_points");
        assert!(
            error.rule.contains("above the budget of 5"),
            "{}",
            error.rule
        );
        assert!(plan(40).check_budget().is_ok());
    }
}
