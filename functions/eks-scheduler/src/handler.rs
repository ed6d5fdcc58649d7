//! One run: event in, report out. Chooses clusters, orders them by dependency,
//! plans every nodegroup, then stops (dependents first) and starts (dependencies first).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use jiff::Timestamp;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use shared::accounts::Fleet;
use shared::aws::{ApiCallCounter, Aws};
use tokio::time::Instant;
use tracing::{Instrument as _, error, info, warn};

use crate::aws;
use crate::aws::kube::KubeApi;
use crate::config::Config;
use crate::core::{
    self, Action, CapacityPlans, ClusterInfo, ClusterReport, Kind, LAST_ACTION_TAG, LEASE_TAG, LastAction, Lease,
    LeaseState, NodegroupPlan, Report, Request, RunPlan, saved_tag_key,
};
use crate::error::EksSchedulerError;
use crate::sites::{self, Sites};

/// Time kept back from the Lambda deadline to finish the report.
const TIME_RESERVED: Duration = Duration::from_secs(15);
/// The time budget when the invoke carries no deadline (local runs and tests).
const DEFAULT_BUDGET: Duration = Duration::from_secs(300);

/// What the handler needs, built once at cold start.
#[derive(Debug, Clone)]
pub struct Deps {
    pub config: Config,
    pub eks: aws_sdk_eks::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    /// This account's and region's clients and credentials, as a site of a run.
    pub site: sites::Site,
    pub sns: aws_sdk_sns::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub api_calls: ApiCallCounter,
    /// The accounts and regions a run spans (`ACCOUNTS`, `REGIONS`); `None`: this account and region.
    pub fleet: Option<Arc<Fleet>>,
    /// The function's own region: the one `REGIONS` defaults to.
    pub region: String,
    /// The savings ledger (`REPORT_BUCKET`); `None`: no savings are estimated.
    pub ledger: Option<aws::ledger::Ledger>,
    pub prices: aws::prices::Prices,
}

impl Deps {
    pub fn new(config: Config, aws: &Aws) -> Self {
        let aws = &aws.for_function("eks-scheduler");
        let fleet = config
            .spans_sites()
            .then(|| Arc::new(Fleet::including_this_account(aws, &config.accounts, "eks-scheduler")));
        let site = sites::Site::of(aws);
        let ledger = config.report_bucket.as_ref().map(|bucket| aws::ledger::Ledger {
            s3: aws.s3_owned_by(config.report_bucket_owner.as_deref()),
            bucket: bucket.clone(),
            prefix: if config.report_prefix.is_empty() { String::new() } else { format!("{}/", config.report_prefix) },
        });
        let prices = aws::prices::Prices::new(aws, config.price_overrides.clone(), config.pricing_endpoint.as_deref());
        Self {
            ledger,
            prices,
            eks: site.eks.clone(),
            autoscaling: site.autoscaling.clone(),
            site,
            sns: shared::aws_client!(aws_sdk_sns, aws),
            events: shared::aws_client!(aws_sdk_eventbridge, aws),
            api_calls: aws.api_calls().clone(),
            fleet,
            region: aws.sdk_config().region().map(|region| region.to_string()).unwrap_or_default(),
            config,
        }
    }
}

/// What an invocation answers: a scaling run's report, or a `report` run's coverage report.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum Outcome {
    Run(Report),
    Coverage(Box<core::CoverageReport>),
}

impl Outcome {
    /// The scaling run's report; `None` for a coverage report.
    pub fn run(self) -> Option<Report> {
        match self {
            Self::Run(report) => Some(report),
            Self::Coverage(_) => None,
        }
    }

    pub fn coverage(self) -> Option<core::CoverageReport> {
        match self {
            Self::Coverage(report) => Some(*report),
            Self::Run(_) => None,
        }
    }
}

/// One invocation: a scaling run, or (`action: report`) the coverage report.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Outcome, EksSchedulerError> {
    let request = core::parse_event(&event.payload).map_err(EksSchedulerError::InvalidEvent);
    if let Ok(request) = &request
        && request.action == core::RequestedAction::Report
    {
        let outcome = crate::coverage::handle(deps, Timestamp::now(), &event.context.request_id).await;
        return outcome.map(|report| Outcome::Coverage(Box::new(report)));
    }
    handle_run(deps, event).await.map(Outcome::Run)
}

/// A scaling run, then its announcements, its log lines and its metrics.
async fn handle_run(deps: &Deps, event: LambdaEvent<Value>) -> Result<Report, EksSchedulerError> {
    let request_id = event.context.request_id.clone();
    let report = match schedule(deps, event).await {
        Ok(report) => report,
        Err(err) => {
            error!(error = %err, "EKS scheduler run failed");
            emit_metrics(deps, None, Some(&err), &request_id);
            return Err(err);
        }
    };
    log_report(&report);
    let announced = announce(deps, &report, &request_id).await;
    // A plan is the answer to a dry run, problems included: they are in it, per cluster.
    let failure = match (report.failure_summary().filter(|_| !report.dry_run), announced) {
        (None, Ok(())) => None,
        (None, Err(notify)) => Some(notify),
        (Some(clusters), Ok(())) => Some(EksSchedulerError::ClustersFailed(clusters)),
        (Some(clusters), Err(notify)) => {
            Some(EksSchedulerError::ClustersFailedUnannounced { clusters, notify: Box::new(notify) })
        }
    };
    emit_metrics(deps, Some(&report), failure.as_ref(), &request_id);
    match failure {
        None => Ok(report),
        Some(err) => {
            error!(error = %err, "EKS scheduler run failed");
            Err(err)
        }
    }
}

fn emit_metrics(deps: &Deps, report: Option<&Report>, failure: Option<&EksSchedulerError>, request_id: &str) {
    let mut metrics = crate::metrics::of_run(report, failure);
    metrics.property("RequestId", request_id).emit(&deps.config.metrics);
    for mut cluster in report.map(crate::metrics::of_cluster_savings).unwrap_or_default() {
        cluster.property("RequestId", request_id).emit(&deps.config.metrics);
    }
}

#[tracing::instrument(skip_all, fields(request_id = %event.context.request_id))]
async fn schedule(deps: &Deps, event: LambdaEvent<Value>) -> Result<Report, EksSchedulerError> {
    let request = core::parse_event(&event.payload).map_err(EksSchedulerError::InvalidEvent)?;
    let deadline =
        Instant::now() + shared::deadline::time_budget(event.context.deadline(), TIME_RESERVED, DEFAULT_BUDGET);
    run(deps, &request, Timestamp::now(), deadline, &event.context.request_id).await
}

/// The announcements of a run that changed something or failed, to the topic and the bus
/// that are configured. Both are tried; the first failure is returned.
pub async fn announce(deps: &Deps, report: &Report, request_id: &str) -> Result<(), EksSchedulerError> {
    publish(deps, &core::announcements(report, request_id)).await
}

/// Sends announcements to the topic and the bus that are configured.
pub async fn publish(deps: &Deps, announcements: &[core::Announcement]) -> Result<(), EksSchedulerError> {
    if announcements.is_empty() {
        return Ok(());
    }
    let published = match &deps.config.notify_topic_arn {
        Some(topic) => aws::publish_announcements(&deps.sns, topic, announcements).await,
        None => Ok(()),
    };
    let put = match &deps.config.event_bus {
        Some(bus) => aws::put_announcement_events(&deps.events, bus, announcements).await,
        None => Ok(()),
    };
    info!(
        announcements = announcements.len(),
        published = published.is_ok(),
        events_put = put.is_ok(),
        "run announced"
    );
    published.and(put)
}

/// One line per cluster and one for the run: fields, not a JSON string.
fn log_report(report: &Report) {
    for cluster in &report.clusters {
        let nodegroups: Vec<String> = cluster
            .nodegroups
            .iter()
            .map(|n| format!("{} {} {} -> {} ({:?})", n.kind, n.name, n.before, n.after, n.status))
            .collect();
        let action = cluster.action.map(|a| a.as_str()).unwrap_or("none");
        if let Some(savings) = &cluster.savings {
            info!(cluster = %cluster.name, action, savings = %savings.text(), "savings");
        }
        if cluster.status == core::Status::Failed {
            warn!(cluster = %cluster.name, action, status = ?cluster.status, wave = ?cluster.wave, reason = %cluster.reason, held_back = cluster.held_back, nodegroups = ?nodegroups, "cluster");
        } else {
            info!(cluster = %cluster.name, action, status = ?cluster.status, wave = ?cluster.wave, reason = %cluster.reason, nodegroups = ?nodegroups, "cluster");
        }
    }
    let totals = &report.totals;
    info!(
        action = %report.action,
        dry_run = report.dry_run,
        clusters = totals.clusters,
        clusters_failed = totals.clusters_failed,
        nodegroups_changed = totals.nodegroups_changed,
        nodegroups_unchanged = totals.nodegroups_unchanged,
        nodegroups_skipped = totals.nodegroups_skipped,
        nodegroups_failed = totals.nodegroups_failed,
        api_calls = report.api_calls,
        scaling_seconds = report.scaling_seconds,
        "{}",
        if report.dry_run { "dry run: the plan" } else { "EKS scheduler run finished" }
    );
}

/// A cluster chosen for an action, with what is known of it.
#[derive(Debug)]
struct Chosen<'a> {
    info: &'a ClusterInfo,
    plans: CapacityPlans,
}

/// The run itself, with `now` and `deadline` given so tests control time. `request_id`
/// names the run in the lease it takes on each cluster it acts on. It sequences I/O and
/// the core's decisions: find and describe the clusters, lease the ones it would act on,
/// plan (`core::plan_run`), read and plan their nodegroups, then scale wave by wave.
pub async fn run(
    deps: &Deps,
    request: &Request,
    now: Timestamp,
    deadline: Instant,
    request_id: &str,
) -> Result<Report, EksSchedulerError> {
    let calls_before = deps.api_calls.get();
    let config = &deps.config;
    let in_flight = config.max_concurrency;
    let run_prices = deps.prices.for_run();
    let savings = deps.ledger.as_ref().map(|ledger| Savings { ledger, prices: &run_prices });
    let savings = savings.as_ref();

    // Boxed: the per-account listing nests deep enough to exceed the compiler's layout depth.
    let found =
        Box::pin(sites::find_clusters(&deps.site, deps.fleet.as_deref(), &config.regions, &deps.region)).await?;
    let (sites, existing) = (&found.sites, &found.existing);
    let pattern = config.cluster_name_pattern.as_str();
    let candidates = core::candidates(request.clusters.as_deref(), existing, pattern);
    let mut described: Vec<(String, Result<ClusterInfo, EksSchedulerError>)> = stream::iter(candidates)
        .map(|name| {
            let exists = existing.contains(&name);
            async move {
                let info = if exists && !core::name_matches(pattern, core::split_key(&name).1) {
                    Err(EksSchedulerError::OutsidePattern { pattern: pattern.to_owned() })
                } else if exists {
                    let (site, cluster) = sites.locate(&name);
                    // The report and every decision know the cluster by its key.
                    let described = aws::describe_cluster(&site.eks, cluster).await;
                    described.map(|info| ClusterInfo { name: name.clone(), ..info })
                } else {
                    Err(EksSchedulerError::NoSuchCluster { across_accounts: deps.fleet.is_some() })
                };
                (name, info)
            }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;

    if !request.dry_run {
        maintain_snoozes(sites, config, &mut described, now).await;
    }

    // Lease every cluster this run would act on, then decide again from the tags read
    // back with the lease: an overlapping run may have just acted on it.
    let fixed = request.action.fixed();
    let mut lease_refusals = BTreeMap::new();
    let mut leased: Vec<String> = Vec::new();
    if !request.dry_run {
        let lease = Lease::new(request_id, lease_end(now, deadline));
        let wanted: Vec<&ClusterInfo> = described
            .iter()
            .filter_map(|(_, d)| d.as_ref().ok())
            .filter(|info| core::would_act(&config.selection(), request, info, now))
            .collect();
        let outcomes = take_leases(sites, &wanted, &lease, now, in_flight).await;
        for (name, described) in &mut described {
            match outcomes.get(name.as_str()) {
                None => {}
                Some(Ok(fresh_tags)) => {
                    leased.push(name.clone());
                    if let Ok(info) = described {
                        info.tags = fresh_tags.clone();
                    }
                }
                Some(Err(LeaseRefused::Held(reason))) => {
                    lease_refusals.insert(name.clone(), ClusterReport::skipped(name, fixed, reason.clone()));
                }
                Some(Err(LeaseRefused::Failed(reason))) => {
                    lease_refusals.insert(name.clone(), ClusterReport::failed(name, fixed, reason.clone()));
                }
            }
        }
    }

    let planning = core::Planning {
        selection: config.selection(),
        request,
        now,
        dependency_tag: &config.dependency_tag,
        existing,
    };
    let RunPlan { infos, actions, dependencies, reasons, mut reports } =
        core::plan_run(&planning, described, lease_refusals);
    mark_first_snooze_skips(sites, &infos, &mut reports, request.dry_run).await;
    let notices = if request.action == core::RequestedAction::Auto && !request.dry_run && config.notice_minutes > 0 {
        notices(sites, config, &infos, now).await
    } else {
        Vec::new()
    };

    // Read and plan the nodegroups of each action's clusters.
    let mut plans: BTreeMap<String, Chosen<'_>> = BTreeMap::new();
    for (action, action_plan) in &actions {
        let ordered: Vec<&ClusterInfo> = action_plan.to_plan.iter().filter_map(|name| infos.get(name)).collect();
        let read: Vec<(&ClusterInfo, Result<CapacityPlans, ClusterReport>)> = stream::iter(ordered)
            .map(|info| async move { (info, plan_cluster(sites, config, *action, info).await) })
            .buffer_unordered(in_flight)
            .collect()
            .await;
        for (info, planned) in read {
            match planned {
                Ok(capacity_plans) => {
                    plans.insert(info.name.clone(), Chosen { info, plans: capacity_plans });
                }
                Err(mut report) => {
                    report.wave = action_plan.wave_of(&info.name);
                    reports.insert(info.name.clone(), report);
                }
            }
        }
    }
    let waves = RunPlan::waves_of(&actions);

    if request.dry_run {
        for (action, action_waves) in &waves {
            for (wave, name) in action_waves.iter().enumerate().flat_map(|(i, w)| w.iter().map(move |n| (i, n))) {
                if let Some(chosen) = plans.get(name) {
                    let mut report = core::planned_report(name, *action, &chosen.plans);
                    report.wave = Some(wave);
                    report.settle();
                    reports.insert(name.clone(), report);
                }
            }
        }
        let mut report = core::assemble_report(request, reports, &reasons, &waves, deps.api_calls.get() - calls_before);
        report.sites = found.reports;
        report.notices = notices;
        return Ok(report);
    }

    // Stop dependents before what they need; start what is needed before its dependents.
    let scaling_started = Instant::now();
    let mut failed: BTreeSet<String> =
        reports.values().filter(|r| r.status == core::Status::Failed).map(|r| r.name.clone()).collect();
    for action in [Action::Stop, Action::Start] {
        let Some(action_plan) = actions.get(&action) else { continue };
        let in_order: Vec<(usize, &Vec<String>)> = match action {
            Action::Stop => action_plan.waves.iter().enumerate().rev().collect(),
            Action::Start => action_plan.waves.iter().enumerate().collect(),
        };
        for (wave, names) in in_order {
            let mut ready = Vec::new();
            for name in names {
                let Some(planned) = plans.get(name) else { continue };
                match core::held_back_by(action, name, &action_plan.clusters, &dependencies, &failed) {
                    Some(reason) => {
                        let report = core::held_back_report(name, action, &planned.plans, reason, wave);
                        reports.insert(name.clone(), report);
                    }
                    None => ready.push(planned),
                }
            }
            // A wave and each of its clusters are X-Ray subsegments.
            let done: Vec<ClusterReport> = stream::iter(ready)
                .map(|chosen| {
                    let span = tracing::info_span!("cluster", cluster = %chosen.info.name, action = ?action);
                    // Boxed: the cluster's future nests deep enough to exceed the compiler's layout depth.
                    Box::pin(execute(sites, config, savings, action, chosen, now, deadline)).instrument(span)
                })
                .buffer_unordered(in_flight)
                .collect()
                .instrument(tracing::info_span!("wave", wave, action = ?action))
                .await;
            for mut report in done {
                report.wave = Some(wave);
                if report.status == core::Status::Failed {
                    failed.insert(report.name.clone());
                }
                reports.insert(report.name.clone(), report);
            }
        }
    }
    let scaling_seconds = scaling_started.elapsed().as_secs();
    if let Some(savings) = savings {
        Box::pin(write_ledger(savings.ledger, &mut reports)).instrument(tracing::info_span!("ledger")).await;
    }
    release_leases(sites, &infos, &leased, &mut reports).await;
    let mut report = core::assemble_report(request, reports, &reasons, &waves, deps.api_calls.get() - calls_before);
    report.scaling_seconds = scaling_seconds;
    report.sites = found.reports;
    report.notices = notices;
    Ok(report)
}

/// Keeps each described cluster's snooze tag readable by the runs after this one: a duration
/// is written back as the time it ends (so it does not move on), and a snooze that has ended
/// is removed. A tag that cannot be written is logged: this run still honours the snooze.
async fn maintain_snoozes(
    sites: &Sites,
    config: &Config,
    described: &mut [(String, Result<ClusterInfo, EksSchedulerError>)],
    now: Timestamp,
) {
    for (name, described) in described.iter_mut() {
        let Ok(info) = described else { continue };
        let Some(value) = info.tags.get(core::SNOOZE_TAG) else { continue };
        let (zone, _) = core::cluster_zone(&config.selection(), info);
        let eks = &sites.locate(name).0.eks;
        let written = match core::snooze(Some(value), &zone, now) {
            core::Snooze::Until { until, written: false } => {
                let value = core::snooze_tag_value(until);
                let tags = BTreeMap::from([(core::SNOOZE_TAG.to_owned(), value.clone())]);
                info.tags.insert(core::SNOOZE_TAG.to_owned(), value);
                aws::tag_cluster(eks, &info.arn, &tags).await
            }
            core::Snooze::Ended => {
                info.tags.remove(core::SNOOZE_TAG);
                info.tags.remove(core::SNOOZE_ANNOUNCED_TAG);
                let keys = vec![core::SNOOZE_TAG.to_owned(), core::SNOOZE_ANNOUNCED_TAG.to_owned()];
                aws::untag_cluster(eks, &info.arn, keys).await
            }
            _ => Ok(()),
        };
        if let Err(err) = written {
            warn!(cluster = %name, error = %err, "the snooze tag could not be kept up to date");
        }
    }
}

/// Marks the stops skipped for a snooze that no run has announced yet (`SNOOZE_ANNOUNCED_TAG`
/// holds the snooze's end once one has): each snooze is announced once, by the first run that
/// skips a stop for it, however often the runs come.
async fn mark_first_snooze_skips(
    sites: &Sites,
    infos: &BTreeMap<String, ClusterInfo>,
    reports: &mut BTreeMap<String, ClusterReport>,
    dry_run: bool,
) {
    for report in reports.values_mut() {
        let (Some(until), Some(info)) = (report.snoozed_until(), infos.get(&report.name)) else { continue };
        let value = core::snooze_tag_value(until);
        if info.tags.get(core::SNOOZE_ANNOUNCED_TAG) == Some(&value) {
            continue;
        }
        if let Some(snoozed) = report.snoozed.as_mut() {
            snoozed.announce = true;
        }
        if dry_run {
            continue;
        }
        let tags = BTreeMap::from([(core::SNOOZE_ANNOUNCED_TAG.to_owned(), value)]);
        if let Err(err) = aws::tag_cluster(&sites.locate(&report.name).0.eks, &info.arn, &tags).await {
            warn!(cluster = %report.name, error = %err, "the snooze's announcement could not be recorded; a later run announces it again");
        }
    }
}

/// The notices of stops coming within `NOTICE_MINUTES` (`core::notice_for`), each recorded on
/// its cluster (`NOTICED_TAG`) so that no later run, nor Lambda's retry of this one, sends it
/// again. Announced with the run's other announcements.
async fn notices(
    sites: &Sites,
    config: &Config,
    infos: &BTreeMap<String, ClusterInfo>,
    now: Timestamp,
) -> Vec<core::Notice> {
    let window = jiff::SignedDuration::from_mins(i64::from(config.notice_minutes));
    let mut notices = Vec::new();
    for info in infos.values() {
        let Some(notice) = core::notice_for(&config.selection(), info, now, window) else { continue };
        let tags = BTreeMap::from([(core::NOTICED_TAG.to_owned(), notice.noticed_tag_value())]);
        if let Err(err) = aws::tag_cluster(&sites.locate(&info.name).0.eks, &info.arn, &tags).await {
            warn!(cluster = %info.name, error = %err, "the notice could not be recorded; a later run may send it again");
        }
        notices.push(notice);
    }
    notices
}

/// How long to wait between writing a lease and reading it back: longer than any run
/// takes between reading a cluster's lease and writing its own (one API call).
const LEASE_SETTLE: Duration = Duration::from_secs(2);

/// A lease lasts as long as the invocation can: Lambda ends it at its deadline.
fn lease_end(now: Timestamp, deadline: Instant) -> Timestamp {
    let left = deadline.saturating_duration_since(Instant::now()) + TIME_RESERVED;
    now.checked_add(jiff::SignedDuration::try_from(left).unwrap_or_default()).unwrap_or(now)
}

/// Why a run did not get a cluster's lease.
#[derive(Debug, Clone)]
enum LeaseRefused {
    /// Another run holds it: that run acts on the cluster.
    Held(String),
    /// The tags could not be read or written.
    Failed(String),
}

/// Takes the lease on each cluster: reads the lease tag, writes ours where it is free,
/// waits [`LEASE_SETTLE`] once for all, and reads each back. Returns, per cluster, its
/// tags as read back (ours is in them), or why it is not ours.
async fn take_leases(
    sites: &Sites,
    clusters: &[&ClusterInfo],
    lease: &Lease,
    now: Timestamp,
    in_flight: usize,
) -> BTreeMap<String, Result<BTreeMap<String, String>, LeaseRefused>> {
    if let Some(problem) = core::lease_tag_problem(lease) {
        let refused = LeaseRefused::Failed(format!("cannot take the lease: {problem}"));
        return clusters.iter().map(|info| (info.name.clone(), Err(refused.clone()))).collect();
    }
    let lease_tag = BTreeMap::from([(LEASE_TAG.to_owned(), lease.tag_value())]);
    let written: Vec<(&ClusterInfo, Result<(), LeaseRefused>)> = stream::iter(clusters.iter().copied())
        .map(|info| {
            let lease_tag = &lease_tag;
            async move {
                let eks = &sites.locate(&info.name).0.eks;
                let taken = async {
                    let tags =
                        aws::cluster_tags(eks, &info.arn).await.map_err(|err| LeaseRefused::Failed(err.to_string()))?;
                    let state = core::lease_state(tags.get(LEASE_TAG).map(String::as_str), lease, now);
                    if let Some(reason) = state.refusal() {
                        return Err(LeaseRefused::Held(reason));
                    }
                    aws::tag_cluster(eks, &info.arn, lease_tag)
                        .await
                        .map_err(|reason| LeaseRefused::Failed(format!("taking the lease failed: {reason}")))
                };
                (info, taken.await)
            }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    if written.iter().any(|(_, taken)| taken.is_ok()) {
        // Its own subsegment: a trace shows where these two seconds of every run go.
        tokio::time::sleep(LEASE_SETTLE).instrument(tracing::info_span!("lease settle")).await;
    }
    stream::iter(written)
        .map(|(info, taken)| async move {
            let eks = &sites.locate(&info.name).0.eks;
            let checked = match taken {
                Err(refused) => Err(refused),
                Ok(()) => match aws::cluster_tags(eks, &info.arn).await {
                    Err(err) => Err(LeaseRefused::Failed(err.to_string())),
                    Ok(tags) => match core::lease_state(tags.get(LEASE_TAG).map(String::as_str), lease, now) {
                        LeaseState::Ours => Ok(tags),
                        other => Err(LeaseRefused::Held(other.refusal().unwrap_or_else(|| {
                            "the lease just written was gone when read back: another run is acting on it".to_owned()
                        }))),
                    },
                },
            };
            (info.name.clone(), checked)
        })
        .buffer_unordered(in_flight)
        .collect()
        .await
}

/// Removes this run's leases. No other run can have taken one meanwhile: a lease lasts
/// until the invocation's deadline, and the run ends before it. A lease left behind only
/// delays the next run until it expires, so a failure here is reported, not fatal.
async fn release_leases(
    sites: &Sites,
    infos: &BTreeMap<String, ClusterInfo>,
    leased: &[String],
    reports: &mut BTreeMap<String, ClusterReport>,
) {
    let released: Vec<(String, Result<(), EksSchedulerError>)> =
        stream::iter(leased.iter().filter_map(|name| infos.get(name)))
            .map(|info| async move {
                let eks = &sites.locate(&info.name).0.eks;
                (info.name.clone(), aws::untag_cluster(eks, &info.arn, vec![LEASE_TAG.to_owned()]).await)
            })
            .buffer_unordered(8)
            .collect()
            .await;
    for (name, result) in released {
        if let (Err(reason), Some(report)) = (result, reports.get_mut(&name)) {
            let note = format!("its lease tag {LEASE_TAG} could not be removed ({reason}); it expires by itself");
            report.reason = if report.reason.is_empty() { note } else { format!("{}; {note}", report.reason) };
        }
    }
}

/// Reads a cluster's capacity (managed nodegroups, self-managed groups, NodePools where its
/// API is asked, Fargate profiles) and plans each piece (`core::plan_capacity`). A cluster with
/// nothing to scale, one whose saved sizes would not fit in EKS's tag limit, or one whose
/// NodePools are out of reach comes back as its report.
async fn plan_cluster(
    sites: &Sites,
    config: &Config,
    action: Action,
    info: &ClusterInfo,
) -> Result<CapacityPlans, ClusterReport> {
    let (site, cluster) = sites.locate(&info.name);
    let asks_api = match core::nodepool_access(&info.api, &info.tags, config.in_vpc) {
        core::NodePoolAccess::NotUsed => false,
        core::NodePoolAccess::Reachable => true,
        core::NodePoolAccess::Unreachable(reason) => {
            return Err(ClusterReport::skipped(&info.name, Some(action), reason));
        }
    };
    let capacity = read_capacity(site, cluster, config, info, asks_api)
        .await
        .map_err(|err| ClusterReport::failed(&info.name, Some(action), err.to_string()))?;
    core::plan_capacity(action, info, capacity)
}

/// A cluster's capacity as it is now, with what each piece runs; its NodePools only when
/// `with_nodepools` (its Kubernetes API is reachable and used).
pub(crate) async fn read_capacity(
    site: &sites::Site,
    cluster: &str,
    config: &Config,
    info: &ClusterInfo,
    with_nodepools: bool,
) -> Result<core::Capacity, EksSchedulerError> {
    let nodepools = if with_nodepools {
        let kube = site.kube_api(info, &config.kubernetes_endpoints).instrument(tracing::info_span!("token")).await?;
        read_nodepools(&kube, info).instrument(tracing::info_span!("nodepools")).await?
    } else {
        Vec::new()
    };
    let (managed, mut running) = aws::nodegroup_sizes(&site.eks, cluster).await?;
    let (self_managed, groups_running) = aws::self_managed_groups(&site.autoscaling, cluster).await?;
    running.extend(groups_running);
    running.extend(nodepools.iter().map(|(pool, machines)| core::RunningPiece {
        kind: Kind::NodePool,
        name: pool.name.clone(),
        machines: machines.clone(),
    }));
    Ok(core::Capacity {
        managed,
        self_managed,
        nodepools: nodepools.into_iter().map(|(pool, _)| pool).collect(),
        fargate: aws::fargate_profiles(&site.eks, cluster).await?,
        running,
    })
}

/// A cluster's NodePools with their NodeClaims, and the machines each pool's claims run: two requests.
async fn read_nodepools(
    kube: &KubeApi,
    info: &ClusterInfo,
) -> Result<Vec<(core::NodePool, Vec<core::Machines>)>, EksSchedulerError> {
    let Some(mut pools) = kube.nodepools().await? else {
        return Err(EksSchedulerError::Kubernetes {
            cluster: info.name.clone(),
            operation: "list NodePools".to_owned(),
            status: Some(404),
            message: format!(
                "the cluster's API has no NodePool resource (karpenter.sh/v1): install Karpenter v1 or later, or remove \
                 the tag {}",
                core::KARPENTER_TAG
            ),
        });
    };
    let claims = kube.nodeclaims().await?;
    let mut read = Vec::with_capacity(pools.len());
    for mut pool in pools.drain(..) {
        let own: Vec<&crate::aws::kube::NodeClaim> =
            claims.iter().filter(|claim| claim.nodepool == pool.name).collect();
        pool.nodeclaims = own.iter().map(|claim| claim.name.clone()).collect();
        let labels: Vec<(Option<String>, Option<String>)> =
            own.iter().map(|claim| (claim.instance_type.clone(), claim.capacity_type.clone())).collect();
        read.push((pool, core::nodepool_machines(&labels)));
    }
    Ok(read)
}

/// Carries out one cluster's plan, kind by kind in the action's order (`Kind::phases`): a
/// kind whose action failed holds the next one back, so a stop never takes down the
/// managed nodegroups (and the controllers on them) under capacity still running.
async fn execute(
    sites: &Sites,
    config: &Config,
    savings: Option<&Savings<'_>>,
    action: Action,
    chosen: &Chosen<'_>,
    now: Timestamp,
    deadline: Instant,
) -> ClusterReport {
    let info = chosen.info;
    // What a stop takes down is recorded before anything is scaled: if that fails, nothing is.
    let mut stop_record = None;
    if action == Action::Stop
        && let Some(savings) = savings
    {
        match savings.record_stop(info, &chosen.plans, now).await {
            Ok(record) => stop_record = record,
            Err(err) => {
                let mut report = core::planned_report(&info.name, action, &chosen.plans);
                let reason =
                    format!("what it runs could not be recorded for the savings ledger, so it was not stopped: {err}");
                for line in report.nodegroups.iter_mut().filter(|line| line.status == core::Status::Changed) {
                    line.fail(reason.clone());
                }
                report.status = core::Status::Failed;
                report.reason = reason;
                return report;
            }
        }
    }
    let mut report = ClusterReport::new(&info.name, Some(action));
    let mut failed_kind: Option<Kind> = None;
    let mut whole = true;
    for kind in Kind::phases(action) {
        let mut lines = chosen.plans.planned(kind);
        if let Some(earlier) = failed_kind {
            for line in lines.iter_mut().filter(|line| line.status == core::Status::Changed) {
                line.fail(format!("not acted on: the {earlier} capacity before it failed"));
            }
        } else if lines.iter().any(|line| line.status == core::Status::Changed) {
            // Each kind's work is a subsegment of its own, named for the kind.
            let done = match kind {
                Kind::Managed => {
                    let span = tracing::info_span!("managed nodegroups");
                    execute_managed(sites, action, chosen, &mut lines, deadline).instrument(span).await
                }
                Kind::SelfManaged => {
                    let span = tracing::info_span!("self-managed groups");
                    execute_self_managed(sites, action, chosen, &mut lines).instrument(span).await
                }
                Kind::NodePool => {
                    let span = tracing::info_span!("nodepools");
                    execute_nodepools(sites, config, action, chosen, &mut lines).instrument(span).await
                }
                Kind::Fargate => Ok(()),
            };
            if let Err(reason) = done {
                report.status = core::Status::Failed;
                report.reason = reason;
            }
            if report.status == core::Status::Failed || lines.iter().any(|line| line.status == core::Status::Failed) {
                failed_kind = Some(kind);
            }
        }
        whole &= !lines.iter().any(|line| line.status == core::Status::Failed);
        report.nodegroups.extend(lines);
    }
    report.nodegroups.extend(chosen.plans.planned(Kind::Fargate));

    // The last action is recorded only once every piece is where the action puts it:
    // `auto`, and Lambda's retry of a failed run, then try a failed or partial stop or
    // start again instead of finding it done.
    if whole && report.status != core::Status::Failed {
        let eks = &sites.locate(&info.name).0.eks;
        let last = BTreeMap::from([(LAST_ACTION_TAG.to_owned(), LastAction { action, at: now }.tag_value())]);
        if let Err(reason) = aws::tag_cluster(eks, &info.arn, &last).await {
            report.status = core::Status::Failed;
            report.reason =
                format!("the capacity was scaled, but recording {LAST_ACTION_TAG} on the cluster failed: {reason}");
        }
        if let Some(savings) = savings
            && report.status != core::Status::Failed
        {
            match savings.of_action(info, action, stop_record.as_ref(), now).await {
                Ok(found) => report.savings = found,
                Err(err) => {
                    report.status = core::Status::Failed;
                    report.reason = format!("it was started, but its off period could not be settled: {err}");
                }
            }
        }
    }
    report.settle();
    report
}

/// The savings ledger and a run's prices.
#[derive(Debug)]
struct Savings<'a> {
    ledger: &'a aws::ledger::Ledger,
    prices: &'a aws::prices::RunPrices<'a>,
}

impl Savings<'_> {
    /// Records what a stop is about to take down (`core::merge_stop_record` with the record
    /// already stored), returning the record that stands.
    async fn record_stop(
        &self,
        info: &ClusterInfo,
        plans: &CapacityPlans,
        now: Timestamp,
    ) -> Result<Option<core::StopRecord>, EksSchedulerError> {
        let (account, region) = site_of(info)?;
        let name = core::split_key(&info.name).1;
        let stored = self.ledger.stop_record(&account, &region, name).await?;
        let current = core::StopRecord {
            cluster: info.name.clone(),
            account,
            region,
            stopped_at: core::to_second(now),
            pieces: plans.stopping(),
        };
        let last = info.tags.get(LAST_ACTION_TAG).and_then(|value| LastAction::parse(value).ok());
        let record = core::merge_stop_record(stored.clone(), current, last.as_ref());
        if let Some(record) = &record
            && Some(record) != stored.as_ref()
        {
            self.ledger.put_stop_record(record, name).await?;
        }
        Ok(record)
    }

    /// What a completed action saves: a stop's hourly figure, or a start's settled off period
    /// (from the stop record; none when the cluster has none).
    async fn of_action(
        &self,
        info: &ClusterInfo,
        action: Action,
        stop_record: Option<&core::StopRecord>,
        now: Timestamp,
    ) -> Result<Option<Box<core::SavingsReport>>, EksSchedulerError> {
        let name = core::split_key(&info.name).1;
        match action {
            Action::Stop => match stop_record {
                Some(record) => {
                    let priced = self.prices.price(record).await;
                    Ok(Some(Box::new(core::SavingsReport::of_stop(record, name, &priced))))
                }
                None => Ok(None),
            },
            Action::Start => {
                let (account, region) = site_of(info)?;
                let Some(record) = self.ledger.stop_record(&account, &region, name).await? else { return Ok(None) };
                let priced = self.prices.price(&record).await;
                Ok(Some(Box::new(core::SavingsReport::of_start(record, name, now, priced))))
            }
        }
    }
}

pub(crate) fn site_of(info: &ClusterInfo) -> Result<(String, String), EksSchedulerError> {
    core::arn_site(&info.arn).ok_or_else(|| EksSchedulerError::Eks {
        operation: "DescribeCluster".to_owned(),
        message: format!("the cluster's ARN {:?} names no account and region", info.arn),
        transient: false,
    })
}

/// Appends the run's ledger lines, one write per account and month; then removes the stop
/// records the starts settled. A cluster whose line could not be written fails, so the run
/// fails and Lambda's retry writes it (the same line, which replaces itself).
async fn write_ledger(ledger: &aws::ledger::Ledger, reports: &mut BTreeMap<String, ClusterReport>) {
    let mut months: BTreeMap<(String, String), Vec<(String, core::LedgerLine)>> = BTreeMap::new();
    for (name, report) in reports.iter() {
        if let Some(line) = report.savings.as_ref().and_then(|s| s.ledger_line.clone()) {
            months.entry((line.account.clone(), line.month())).or_default().push((name.clone(), line));
        }
    }
    for ((account, month), lines) in months {
        let only_lines: Vec<core::LedgerLine> = lines.iter().map(|(_, line)| line.clone()).collect();
        let written = ledger.append(&account, &month, &only_lines).await;
        for (name, _) in &lines {
            let Some(report) = reports.get_mut(name) else { continue };
            match &written {
                Ok(_) => {
                    let settled = report.savings.as_ref().and_then(|s| s.settles.clone());
                    if let Some(record) = settled
                        && let Err(err) = ledger.delete_stop_record(&record, core::split_key(name).1).await
                    {
                        // Harmless: the next stop finds it older than this start and replaces it.
                        let note = format!("its settled stop record was left in place ({err})");
                        report.reason =
                            if report.reason.is_empty() { note } else { format!("{}; {note}", report.reason) };
                    }
                }
                Err(err) => {
                    report.status = core::Status::Failed;
                    let note = format!("its line could not be written to the savings ledger: {err}");
                    report.reason = if report.reason.is_empty() { note } else { format!("{}; {note}", report.reason) };
                }
            }
        }
    }
}

/// The managed nodegroups' share of a cluster's action, their report lines updated: on stop
/// the sizes are saved on the cluster first (if that fails, none is scaled), then every
/// nodegroup is scaled at once, then the sizes restored are untagged. `Err` is a reason
/// for the whole cluster.
async fn execute_managed(
    sites: &Sites,
    action: Action,
    chosen: &Chosen<'_>,
    lines: &mut [core::NodegroupReport],
    deadline: Instant,
) -> Result<(), String> {
    let info = chosen.info;
    let (site, cluster) = sites.locate(&info.name);
    let eks = &site.eks;
    let changes: Vec<(usize, &str, core::Sizes, bool)> = chosen
        .plans
        .managed
        .iter()
        .enumerate()
        .filter_map(|(index, (name, plan))| match plan {
            NodegroupPlan::Change { after, clear_saved, .. } => Some((index, name.as_str(), *after, *clear_saved)),
            _ => None,
        })
        .collect();
    if changes.is_empty() {
        return Ok(());
    }

    if action == Action::Stop {
        // Sizes are saved before anything is scaled: if saving fails, nothing is.
        let saved = core::saved_size_tags(&chosen.plans.managed);
        if let Err(reason) = aws::tag_cluster(eks, &info.arn, &saved).await {
            for (index, ..) in &changes {
                lines[*index].fail(format!("its size could not be saved, so it was not scaled: {reason}"));
            }
            return Err(reason.to_string());
        }
    }

    let results: Vec<(usize, &str, bool, Result<(), EksSchedulerError>)> =
        futures_util::future::join_all(changes.iter().map(|(index, name, after, clear_saved)| async move {
            (*index, *name, *clear_saved, aws::scale_nodegroup(eks, cluster, name, *after, deadline).await)
        }))
        .await;
    let mut restored = Vec::new();
    for (index, name, clear_saved, result) in results {
        match result {
            Ok(()) if clear_saved => restored.push(saved_tag_key(name)),
            Ok(()) => {}
            Err(err) => lines[index].fail(err.to_string()),
        }
    }
    if restored.is_empty() {
        return Ok(());
    }
    let untagged = async {
        // A saved size written since this run read it (by a stop that overlapped,
        // despite the lease) is the newer record: only the sizes restored are removed.
        let now_tags = aws::cluster_tags(eks, &info.arn).await?;
        restored.retain(|key| now_tags.get(key) == info.tags.get(key));
        aws::untag_cluster(eks, &info.arn, restored).await
    };
    untagged.await.map_err(|reason| {
        format!("the nodegroups were scaled, but removing their saved sizes from the cluster's tags failed: {reason}")
    })
}

/// How often a NodePool's patch is planned again after the pool changed under it (409).
const NODEPOOL_ATTEMPTS: usize = 3;

/// The NodePools' share of a cluster's action, their report lines updated: each pool's
/// patch (planned again from the pool as it is now if it changed since it was read), then on
/// stop its NodeClaims deleted, the pools at once. `Err` (the API could not be reached) is a
/// reason for the whole cluster.
async fn execute_nodepools(
    sites: &Sites,
    config: &Config,
    action: Action,
    chosen: &Chosen<'_>,
    lines: &mut [core::NodegroupReport],
) -> Result<(), String> {
    let info = chosen.info;
    let site = sites.locate(&info.name).0;
    let kube = site.kube_api(info, &config.kubernetes_endpoints).await.map_err(|err| err.to_string())?;
    let results = futures_util::future::join_all(
        chosen
            .plans
            .nodepools
            .iter()
            .enumerate()
            .filter(|(_, (_, plan))| matches!(plan, core::NodePoolPlan::Change { .. }))
            .map(|(index, (name, plan))| {
                let kube = &kube;
                async move { (index, act_on_nodepool(kube, action, info.api.auto_mode, name, plan.clone()).await) }
            }),
    )
    .await;
    for (index, done) in results {
        match done {
            Ok(line) => lines[index] = line,
            Err(err) => lines[index].fail(err.to_string()),
        }
    }
    Ok(())
}

/// One NodePool's patch and NodeClaim deletions. A patch refused because the pool changed
/// since it was read (409: Karpenter or an operator wrote it) is planned again from the pool
/// as it is now; the report line says what was done.
async fn act_on_nodepool(
    kube: &KubeApi,
    action: Action,
    auto_mode: bool,
    name: &str,
    mut plan: core::NodePoolPlan,
) -> Result<core::NodegroupReport, EksSchedulerError> {
    for attempt in 1..=NODEPOOL_ATTEMPTS {
        let core::NodePoolPlan::Change { patch, delete, .. } = &plan else {
            return Ok(core::NodegroupReport::nodepool(name, &plan));
        };
        let patched = match patch {
            Some(patch) => kube.patch_nodepool(name, patch).await,
            None => Ok(()),
        };
        match patched {
            Ok(()) => {
                for claim in delete {
                    kube.delete_nodeclaim(claim).await?;
                }
                return Ok(core::NodegroupReport::nodepool(name, &plan));
            }
            Err(EksSchedulerError::Kubernetes { status: Some(409), .. }) if attempt < NODEPOOL_ATTEMPTS => {
                let mut pool = kube.nodepool(name).await?;
                pool.nodeclaims = kube.nodeclaims_of(name).await?;
                plan = core::plan_nodepool(action, &pool, auto_mode);
            }
            Err(err) => return Err(err),
        }
    }
    Ok(core::NodegroupReport::nodepool(name, &plan))
}

/// The self-managed groups' share of a cluster's action, their report lines updated: each
/// group's steps in order (`aws::stop_group`, `aws::start_group`), the groups at once.
async fn execute_self_managed(
    sites: &Sites,
    action: Action,
    chosen: &Chosen<'_>,
    lines: &mut [core::NodegroupReport],
) -> Result<(), String> {
    let autoscaling = &sites.locate(&chosen.info.name).0.autoscaling;
    let results = futures_util::future::join_all(
        chosen
            .plans
            .self_managed
            .iter()
            .enumerate()
            .filter(|(_, (_, plan))| matches!(plan.sizes, NodegroupPlan::Change { .. }))
            .map(|(index, (name, plan))| async move {
                let done = match action {
                    Action::Stop => aws::stop_group(autoscaling, name, plan).await,
                    Action::Start => aws::start_group(autoscaling, name, plan).await,
                };
                (index, done)
            }),
    )
    .await;
    for (index, done) in results {
        if let Err(err) = done {
            lines[index].fail(err.to_string());
        }
    }
    Ok(())
}
