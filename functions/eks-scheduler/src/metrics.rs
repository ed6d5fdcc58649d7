//! What one run tells CloudWatch: its heartbeat, the nodegroups it stopped, started,
//! failed on and skipped, the clusters its dependencies held back, and its scaling time.

use shared::accounts::AccountStatus;
use shared::metrics::{Metrics, Unit};

use crate::core::{Action, Report, Status};
use crate::error::EksSchedulerError;

/// The metrics of one run: `report` when the run got that far, `failure` when it failed
/// (a report with failed clusters, an announcement that failed, or no report at all).
pub fn of_run(report: Option<&Report>, failure: Option<&EksSchedulerError>) -> Metrics {
    let mut metrics = Metrics::of_run(failure.is_none());
    if let Some(report) = report {
        let nodegroups = |action: Option<Action>, status: Status| {
            report
                .clusters
                .iter()
                .filter(|c| action.is_none() || c.action == action)
                .flat_map(|c| c.nodegroups.iter())
                .filter(|n| n.status == status)
                .count()
        };
        // A dry run changes nothing: what it would change is in its report, not in these.
        let acted = |count: usize| if report.dry_run { 0 } else { count };
        metrics
            .count("NodegroupsStopped", acted(nodegroups(Some(Action::Stop), Status::Changed)))
            .count("NodegroupsStarted", acted(nodegroups(Some(Action::Start), Status::Changed)))
            .count("NodegroupsFailed", report.totals.nodegroups_failed)
            .count("NodegroupsSkipped", report.totals.nodegroups_skipped)
            .count("ClustersFailed", report.totals.clusters_failed)
            .count("ClustersHeldBack", report.clusters.iter().filter(|c| c.held_back).count())
            .count("ApiCalls", report.api_calls)
            .put("ScalingTime", Unit::Seconds, report.scaling_seconds as f64)
            .property("Action", report.action.clone())
            .property("DryRun", report.dry_run);
        let saved: Vec<f64> = saved_by_cluster(report).map(|(_, usd)| usd).collect();
        if !saved.is_empty() {
            metrics.put(SAVINGS_METRIC, Unit::None, saved.iter().sum());
        }
        if !report.sites.is_empty() {
            // An account or region that could not be read hides its clusters: it needs an alarm of its own.
            let failed = report.sites.iter().filter(|site| site.status == AccountStatus::Failed).count();
            metrics.count("SitesFailed", failed);
        }
    }
    if let Some(err) = failure {
        metrics.property("ErrorType", err.error_type()).property("Error", err.to_string());
    }
    metrics
}

/// A `report` run's metrics: what no schedule covers, and what the suggested schedule would save.
pub fn of_coverage(report: Option<&crate::core::CoverageReport>, failure: Option<&EksSchedulerError>) -> Metrics {
    let mut metrics = Metrics::of_run(failure.is_none());
    metrics.property("Action", "report");
    if let Some(report) = report {
        let totals = &report.totals;
        metrics
            .count("ClustersUnscheduled", totals.unscheduled)
            .count("InstancesUnscheduled", totals.instances_unscheduled)
            .count("ScheduleCandidates", totals.candidates)
            .put("SuggestedMonthlySavings", Unit::None, totals.suggested_usd_a_month)
            .count("ApiCalls", report.api_calls);
    }
    if let Some(err) = failure {
        metrics.property("ErrorType", err.error_type()).property("Error", err.to_string());
    }
    metrics
}

/// The estimated USD a start's off period saved (`core::SavingsReport`), per cluster and per run.
pub const SAVINGS_METRIC: &str = "EstimatedSavings";

fn saved_by_cluster(report: &Report) -> impl Iterator<Item = (&str, f64)> {
    report.clusters.iter().filter_map(|cluster| {
        let usd = cluster.savings.as_ref()?.saving.as_ref()?.usd?;
        Some((cluster.name.as_str(), usd))
    })
}

/// One document per cluster whose start settled a saving, with the dimension `Cluster`: a
/// chart of what each cluster's schedule is worth.
pub fn of_cluster_savings(report: &Report) -> Vec<Metrics> {
    saved_by_cluster(report)
        .map(|(cluster, usd)| {
            let mut metrics = Metrics::default();
            metrics.put(SAVINGS_METRIC, Unit::None, usd).dimension("Cluster", cluster);
            metrics
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};
    use shared::metrics::{MetricsConfig, check_document};

    use super::*;
    use crate::core::{ClusterReport, NodegroupReport};

    fn nodegroup(status: Status) -> NodegroupReport {
        NodegroupReport {
            kind: crate::core::Kind::Managed,
            name: "ng".into(),
            before: "1/2/3".into(),
            after: "0/0/3".into(),
            status,
            reason: String::new(),
        }
    }

    fn report(dry_run: bool) -> Report {
        let mut stopped = ClusterReport::new("a", Some(Action::Stop));
        stopped.nodegroups = vec![nodegroup(Status::Changed), nodegroup(Status::Changed), nodegroup(Status::Skipped)];
        let mut started = ClusterReport::new("b", Some(Action::Start));
        started.nodegroups = vec![nodegroup(Status::Changed), nodegroup(Status::Failed)];
        let held = ClusterReport::failed("c", Some(Action::Start), "needs b, which failed").held_back();
        let clusters = vec![stopped, started, held];
        Report {
            action: "auto".into(),
            dry_run,
            waves: BTreeMap::new(),
            totals: Report::totals_of(&clusters),
            clusters,
            api_calls: 9,
            scaling_seconds: 120,
            sites: Vec::new(),
            notices: Vec::new(),
        }
    }

    fn checked(report: Option<&Report>, failure: Option<&EksSchedulerError>) -> Value {
        let document = of_run(report, failure).document(&MetricsConfig::local("eks-scheduler"), 0);
        check_document(&document).unwrap_or_else(|err| panic!("{err}: {document}"));
        document
    }

    #[test]
    fn a_run_counts_nodegroups_by_action_and_outcome() {
        let document = checked(Some(&report(false)), None);
        for (name, value) in [
            ("Succeeded", 1.0),
            ("NodegroupsStopped", 2.0),
            ("NodegroupsStarted", 1.0),
            ("NodegroupsFailed", 1.0),
            ("NodegroupsSkipped", 1.0),
            ("ClustersFailed", 1.0),
            ("ClustersHeldBack", 1.0),
            ("ApiCalls", 9.0),
            ("ScalingTime", 120.0),
        ] {
            assert_eq!(document[name], json!(value), "{name}");
        }
    }

    #[test]
    fn each_settled_saving_is_a_metric_of_its_cluster_and_of_the_run() {
        use crate::core::{Kind, Machines, Market, PriceBasis, RunningPiece, SavingsReport, StopRecord, price_record};
        let record = StopRecord {
            cluster: "dev".into(),
            account: "111122223333".into(),
            region: "eu-west-1".into(),
            stopped_at: "2026-12-04T19:00:00Z".parse().expect("a time"),
            pieces: vec![RunningPiece {
                kind: Kind::Managed,
                name: "web".into(),
                machines: vec![Machines { instance_type: "m5.large".into(), market: Market::OnDemand, count: 2 }],
            }],
        };
        let priced = price_record(&record, &|_: &str, _: Market| Ok((0.1, PriceBasis::ListPrice)));
        let started = "2026-12-05T07:00:00Z".parse().expect("a time");
        let mut run = report(false);
        run.clusters[1].savings = Some(Box::new(SavingsReport::of_start(record, "b", started, priced)));
        // 12 hours of 2 instances at $0.10.
        let per_cluster = of_cluster_savings(&run);
        assert_eq!(per_cluster.len(), 1);
        let document = per_cluster[0].document(&MetricsConfig::local("eks-scheduler"), 0);
        check_document(&document).unwrap_or_else(|err| panic!("{err}: {document}"));
        assert_eq!(document["Cluster"], json!("b"));
        assert_eq!(document["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["FunctionName", "Cluster"]]));
        assert!((document["EstimatedSavings"].as_f64().expect("a number") - 2.4).abs() < 1e-9, "{document}");
        let whole = checked(Some(&run), None);
        assert!((whole["EstimatedSavings"].as_f64().expect("a number") - 2.4).abs() < 1e-9, "{whole}");
        assert!(checked(Some(&report(false)), None).get("EstimatedSavings").is_none(), "no saving, no metric");
    }

    #[test]
    fn a_failed_run_has_a_zero_heartbeat_and_a_dry_run_changes_nothing() {
        let failure = EksSchedulerError::ClustersFailed("1 of 3 clusters failed".into());
        let document = checked(Some(&report(true)), Some(&failure));
        assert_eq!(document["Succeeded"], json!(0.0));
        assert_eq!(document["NodegroupsStopped"], json!(0.0));
        assert_eq!(document["ErrorType"], json!("ClustersFailed"));
        let invalid = EksSchedulerError::InvalidEvent("no action".into());
        let no_report = checked(None, Some(&invalid));
        assert_eq!(no_report["Succeeded"], json!(0.0));
        assert!(no_report.get("NodegroupsStopped").is_none());
    }
}
