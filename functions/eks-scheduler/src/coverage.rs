//! A `report` run: the coverage report (`core::CoverageReport`) and the calendar
//! (`core::calendar`) of every cluster the run reaches. It reads, and changes nothing but the
//! two files it writes in the report bucket, beside the savings ledger.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::stream::{self, StreamExt};
use jiff::{SignedDuration, Timestamp};
use shared::config::ConfigError;
use tracing::{Instrument as _, error, info};

use crate::aws;
use crate::core::{self, ClusterInfo, CoverageReport, CoverageRow, LedgerLine};
use crate::error::EksSchedulerError;
use crate::handler::{self, Deps};
use crate::sites::{self, Sites};

/// A `report` invocation: the report, its files, its announcement, its log line and metrics.
pub async fn handle(deps: &Deps, now: Timestamp, request_id: &str) -> Result<CoverageReport, EksSchedulerError> {
    let outcome = report(deps, now).instrument(tracing::info_span!("report", request_id)).await;
    let report = match outcome {
        Ok(report) => report,
        Err(err) => {
            error!(error = %err, "EKS coverage report failed");
            crate::metrics::of_coverage(None, Some(&err)).property("RequestId", request_id).emit(&deps.config.metrics);
            return Err(err);
        }
    };
    info!(
        clusters = report.totals.clusters,
        unscheduled = report.totals.unscheduled,
        candidates = report.totals.candidates,
        suggested_usd_a_month = report.totals.suggested_usd_a_month,
        csv = %report.csv,
        calendar = %report.calendar,
        "{}",
        report.summary
    );
    let announcement = report.announcement(request_id);
    let announced = handler::publish(deps, std::slice::from_ref(&announcement)).await;
    let failure = match (report.failure_summary(), announced) {
        (None, Ok(())) => None,
        (None, Err(notify)) => Some(notify),
        (Some(incomplete), Ok(())) => Some(EksSchedulerError::ClustersFailed(incomplete)),
        (Some(incomplete), Err(notify)) => {
            Some(EksSchedulerError::ClustersFailedUnannounced { clusters: incomplete, notify: Box::new(notify) })
        }
    };
    crate::metrics::of_coverage(Some(&report), failure.as_ref())
        .property("RequestId", request_id)
        .emit(&deps.config.metrics);
    match failure {
        None => Ok(report),
        Some(err) => {
            error!(error = %err, "EKS coverage report failed");
            Err(err)
        }
    }
}

/// The report itself, with `now` given so tests control time: find every cluster, read what
/// it runs and price it, read the ledger's last two months per account, write the CSV and
/// the calendar.
pub async fn report(deps: &Deps, now: Timestamp) -> Result<CoverageReport, EksSchedulerError> {
    let calls_before = deps.api_calls.get();
    let config = &deps.config;
    let Some(ledger) = &deps.ledger else {
        return Err(EksSchedulerError::Config(ConfigError::Missing {
            name: "REPORT_BUCKET",
            expected: "the bucket the coverage report and calendar are written to (the template sets it when \
                       EksSchedulerReports is on)",
        }));
    };
    let found =
        Box::pin(sites::find_clusters(&deps.site, deps.fleet.as_deref(), &config.regions, &deps.region)).await?;
    let sites = &found.sites;
    let prices = deps.prices.for_run();
    let pattern = config.cluster_name_pattern.as_str();
    let seen: Vec<Seen> = stream::iter(found.existing.iter().cloned())
        .map(|key| {
            let prices = &prices;
            async move {
                let within = core::name_matches(pattern, core::split_key(&key).1);
                let span = tracing::info_span!("cluster", cluster = %key);
                read_cluster(sites, deps, prices, key, within, now).instrument(span).await
            }
        })
        .buffer_unordered(config.max_concurrency)
        .collect()
        .await;

    // The ledger of each account seen: this month and the last, which hold last week.
    let week_ago = now - SignedDuration::from_hours(7 * 24);
    let months: BTreeSet<String> = [now, week_ago].iter().map(|at| at.strftime("%Y-%m").to_string()).collect();
    let accounts: BTreeSet<&str> = seen.iter().map(|s| s.account.as_str()).filter(|a| !a.is_empty()).collect();
    let mut lines: BTreeMap<&str, Vec<LedgerLine>> = BTreeMap::new();
    for account in accounts {
        for month in &months {
            lines.entry(account).or_default().extend(ledger.month(account, month).await?);
        }
    }

    let settings = core::CoverageSettings {
        selection: config.selection(),
        non_production: config.non_production.as_ref(),
        suggested: &config.suggested_schedule.1,
        suggested_text: &config.suggested_schedule.0,
    };
    let rows: Vec<CoverageRow> = seen
        .iter()
        .map(|s| {
            let cluster = core::ClusterSeen {
                account: &s.account,
                region: &s.region,
                name: core::split_key(&s.key).1,
                tags: &s.tags,
                within_pattern: s.within_pattern,
                running: s.running.clone(),
                note: s.note.clone(),
            };
            core::coverage_row(&settings, &cluster, lines.get(s.account.as_str()).map_or(&[], Vec::as_slice), now)
        })
        .collect();

    let schedules: Vec<(String, core::Schedule, String)> = seen
        .iter()
        .filter(|s| s.within_pattern)
        .filter_map(|s| {
            let text = s.tags.get(&config.schedule_tag)?;
            let schedule = core::Schedule::parse(text, &config.default_timezone).ok()?;
            Some((s.key.clone(), schedule, text.clone()))
        })
        .collect();
    let scheduled: Vec<core::Scheduled<'_>> =
        schedules.iter().map(|(cluster, schedule, text)| core::Scheduled { cluster, schedule, text }).collect();

    let mut report = CoverageReport::new(now, &config.suggested_schedule.0, rows);
    let csv = report.csv_text().map_err(|message| EksSchedulerError::Ledger {
        operation: "write the coverage report".to_owned(),
        location: String::new(),
        message,
        transient: false,
    })?;
    let csv_key = ledger.coverage_key(&now.strftime("%Y-%m-%d").to_string());
    ledger.put(&csv_key, "text/csv", csv).await?;
    let calendar_key = ledger.calendar_key();
    ledger.put(&calendar_key, "text/calendar; charset=utf-8", core::calendar(&scheduled, now)).await?;
    report.csv = ledger.location(&csv_key);
    report.calendar = ledger.location(&calendar_key);
    report.sites = found.reports;
    report.api_calls = deps.api_calls.get() - calls_before;
    Ok(report)
}

/// One cluster as the report reads it.
#[derive(Debug)]
struct Seen {
    key: String,
    account: String,
    region: String,
    tags: BTreeMap<String, String>,
    within_pattern: bool,
    running: Result<core::Running, String>,
    note: String,
}

/// Describes a cluster (one within `CLUSTER_NAME_PATTERN`: the role may read no other), reads
/// its capacity and prices what it runs.
async fn read_cluster(
    sites: &Sites,
    deps: &Deps,
    prices: &aws::prices::RunPrices<'_>,
    key: String,
    within_pattern: bool,
    now: Timestamp,
) -> Seen {
    let (site, name) = sites.locate(&key);
    let (key_site, _) = core::split_key(&key);
    let (account, region) =
        key_site.split_once('/').map_or((String::new(), site.region.clone()), |(a, r)| (a.to_owned(), r.to_owned()));
    let mut seen = Seen {
        key: key.clone(),
        account,
        region,
        tags: BTreeMap::new(),
        within_pattern,
        running: Err("the function's role may not read clusters outside CLUSTER_NAME_PATTERN".to_owned()),
        note: String::new(),
    };
    if !within_pattern {
        return seen;
    }
    let info = match aws::describe_cluster(&site.eks, name).await {
        Ok(info) => ClusterInfo { name: key.clone(), ..info },
        Err(err) => {
            seen.running = Err(err.to_string());
            return seen;
        }
    };
    if let Some((account, region)) = core::arn_site(&info.arn) {
        (seen.account, seen.region) = (account, region);
    }
    seen.tags = info.tags.clone();
    let with_nodepools = match core::nodepool_access(&info.api, &info.tags, deps.config.in_vpc) {
        core::NodePoolAccess::NotUsed => false,
        core::NodePoolAccess::Reachable => true,
        core::NodePoolAccess::Unreachable(reason) => {
            seen.note = format!("NodePools not counted: {reason}");
            false
        }
    };
    seen.running = match handler::read_capacity(site, name, &deps.config, &info, with_nodepools).await {
        Ok(capacity) => {
            // Priced as a stop would price it: each piece's machines, in the cluster's region.
            let record = core::StopRecord {
                cluster: key,
                account: seen.account.clone(),
                region: seen.region.clone(),
                stopped_at: now,
                pieces: capacity.running,
            };
            Ok(core::Running::of(&record, &prices.price(&record).await))
        }
        Err(err) => Err(err.to_string()),
    };
    seen
}
