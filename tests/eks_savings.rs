//! What the EKS scheduler saves, end to end: a cluster running managed nodegroups of several
//! instance types (one of them spot) and a self-managed group, stopped and started with an
//! injected clock; the stop record, the ledger's lines, the month's summary and the metric
//! checked against figures worked out by hand.
//!
//! EKS, Auto Scaling, S3 and the spot price (`DescribeSpotPriceHistory`, which the emulator
//! answers with $0.00001 an hour in every zone) are the emulator's; the Price List API, which
//! it lacks, is `support::price_list`, answering in the recorded shape of a real answer.

use anyhow::Result;
use aws_sdk_eks::types::CapacityTypes;
use eks_scheduler::core::{ClusterReport, LedgerLine, Report, Request, RequestedAction, Status, parse_ledger};
use eks_scheduler::{Config, Deps, run};
use jiff::Timestamp;
use support::TestAccount;
use support::eks_seed::{add_nodegroup, seed, seed_groups};
use support::price_list::PriceListApi;

/// The emulator's spot price, in every zone of every region.
const EMULATOR_SPOT_PRICE: f64 = 0.000_01;

struct Shop {
    account: TestAccount,
    bucket: String,
    eks: aws_sdk_eks::Client,
}

/// `shop`: nodegroup `web` (m5.large first of two types, on-demand, 3 nodes), nodegroup `spot`
/// (c5.xlarge first, spot, 2 nodes), and the self-managed group `shop-workers` (2 m6i.large).
async fn shop() -> Result<Shop> {
    let account = TestAccount::new().await;
    let eks = shared::aws_client!(aws_sdk_eks, &account.aws);
    let autoscaling = shared::aws_client!(aws_sdk_autoscaling, &account.aws);
    seed(&eks, &[("shop", &[("auto-stop", "true"), ("auto-start", "true")], &[])]).await?;
    add_nodegroup(&eks, "shop", "web", &["m5.large", "m5a.large"], CapacityTypes::OnDemand, "2/3/6").await?;
    add_nodegroup(&eks, "shop", "spot", &["c5.xlarge", "c5a.xlarge"], CapacityTypes::Spot, "0/2/4").await?;
    let group_tags = [("kubernetes.io/cluster/shop", "owned"), ("eks-scheduler/cluster", "shop")];
    seed_groups(&autoscaling, &[("shop-workers", &group_tags, "1/2/4")]).await?;
    let bucket = account.bucket("savings");
    account.aws.s3().create_bucket().bucket(&bucket).send().await?;
    Ok(Shop { account, bucket, eks })
}

fn scheduler(shop: &Shop, bucket: &str, prices: &PriceListApi) -> Deps {
    let env = shared::config::Env::from_pairs([
        ("REPORT_BUCKET", bucket),
        ("PRICE_OVERRIDES", r#"{"m6i.large": 0.08}"#),
        ("PRICING_ENDPOINT_URL", prices.url.as_str()),
    ]);
    Deps::new(Config::from_env(&env).expect("valid settings"), &shop.account.aws)
}

fn request(action: RequestedAction) -> Request {
    Request { action, dry_run: false, clusters: Some(vec!["shop".to_owned()]) }
}

fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + std::time::Duration::from_secs(60)
}

fn shop_report(report: &Report) -> &ClusterReport {
    report.clusters.iter().find(|c| c.name == "shop").unwrap_or_else(|| panic!("shop in {report:#?}"))
}

async fn object(shop: &Shop, key: &str) -> Result<Option<String>> {
    match shop.account.aws.s3().get_object().bucket(&shop.bucket).key(key).send().await {
        Ok(output) => Ok(Some(String::from_utf8(output.body.collect().await?.into_bytes().to_vec())?)),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

async fn desired(shop: &Shop, nodegroup: &str) -> Result<i32> {
    let described = shop.eks.describe_nodegroup().cluster_name("shop").nodegroup_name(nodegroup).send().await?;
    Ok(described.nodegroup().and_then(|n| n.scaling_config()).and_then(|s| s.desired_size()).unwrap_or(-1))
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() < 1e-9
}

#[tokio::test]
async fn a_stop_and_start_are_priced_by_instance_type_and_market_and_ledgered_once() -> Result<()> {
    let shop = shop().await?;
    let prices = PriceListApi::start(&[("m5.large", "0.0960000000"), ("c5.xlarge", "0.1700000000")], false).await?;
    let deps = scheduler(&shop, &shop.bucket, &prices);
    let account = &shop.account.id;
    let stopped_at: Timestamp = "2026-12-04T19:00:00Z".parse()?;
    let started_at: Timestamp = "2026-12-05T07:00:00Z".parse()?;

    let stop = run(&deps, &request(RequestedAction::Stop), stopped_at, deadline(), "stop-1").await?;
    let stopped = shop_report(&stop);
    assert_eq!(stopped.status, Status::Changed, "{stopped:#?}");
    let savings = stopped.savings.as_ref().expect("a stop's savings");
    assert_eq!(savings.capacity, "2 c5.xlarge spot + 3 m5.large on-demand + 2 m6i.large on-demand");
    // 3 x $0.096 (list) + 2 x the emulator's spot price + 2 x $0.08 (the override).
    let hourly = 3.0 * 0.096 + 2.0 * EMULATOR_SPOT_PRICE + 2.0 * 0.08;
    assert_eq!(savings.usd_an_hour, Some(0.448), "{savings:#?}");
    assert!(savings.note.is_empty(), "{}", savings.note);
    // Only the on-demand type without an override was asked of the Price List API, once.
    assert_eq!(prices.asked(), ["m5.large"]);
    let record_key = format!("eks-scheduler/_state/stopped/{account}/us-east-1/shop.json");
    let record = object(&shop, &record_key).await?.expect("the stop record");
    assert!(record.contains("\"stopped_at\": \"2026-12-04T19:00:00Z\""), "{record}");
    assert_eq!(desired(&shop, "web").await?, 0);

    // Lambda's retry of the stop, minutes later: the cluster is down, its record and line stand.
    let retried = "2026-12-04T19:04:00Z".parse()?;
    run(&deps, &request(RequestedAction::Stop), retried, deadline(), "stop-1").await?;

    let start = run(&deps, &request(RequestedAction::Start), started_at, deadline(), "start-1").await?;
    let started = shop_report(&start);
    assert_eq!(started.status, Status::Changed, "{started:#?}");
    let saving = started.savings.as_ref().and_then(|s| s.saving.clone()).expect("a start's saving");
    assert_eq!((saving.hours_off, saving.instance_hours_off), (12.0, 84.0));
    assert!(close(saving.usd.expect("priced"), 12.0 * hourly), "{saving:#?}");
    assert_eq!(desired(&shop, "web").await?, 3);
    assert_eq!(object(&shop, &record_key).await?, None, "a settled record is removed");
    // The metric a dashboard charts per cluster.
    let metrics = eks_scheduler::metrics::of_cluster_savings(&start);
    assert_eq!(metrics.len(), 1);
    assert!(close(metrics[0].value("EstimatedSavings").expect("the metric"), 12.0 * hourly));
    // A second start (Lambda's retry) finds no record: nothing is counted twice.
    run(&deps, &request(RequestedAction::Start), "2026-12-05T07:03:00Z".parse()?, deadline(), "start-1").await?;

    let ledger = object(&shop, &format!("eks-scheduler/ledger/{account}/2026-12.csv")).await?.expect("the ledger");
    let lines: Vec<LedgerLine> = parse_ledger(&ledger).map_err(anyhow::Error::msg)?;
    let summary: Vec<_> = lines
        .iter()
        .map(|l| (format!("{} {} {}", l.date, l.action, l.off_since), l.usd_an_hour, l.instance_hours_off, l.usd_saved))
        .collect();
    assert_eq!(
        summary,
        [
            ("2026-12-04T19:00:00Z stop 2026-12-04T19:00:00Z".to_owned(), Some(0.448), None, None),
            ("2026-12-05T07:00:00Z start 2026-12-04T19:00:00Z".to_owned(), Some(0.448), Some(84.0), Some(5.38)),
        ],
        "{ledger}"
    );
    assert!(lines.iter().all(|l| l.account == *account && l.region == "us-east-1" && l.cluster == "shop"));
    assert_eq!(lines[1].prices, "PRICE_OVERRIDES; list price, excludes EBS and data transfer; spot price");
    let month = object(&shop, &format!("eks-scheduler/ledger/{account}/2026-12-summary.csv")).await?.expect("summary");
    assert!(month.contains(&format!("\n{account},us-east-1,shop,1,1,12.00,84.00,5.38,0,")), "{month}");
    Ok(())
}

#[tokio::test]
async fn prices_that_cannot_be_had_are_unknown_never_made_up_and_a_missing_bucket_stops_nothing() -> Result<()> {
    let shop = shop().await?;
    let refusing = PriceListApi::start(&[], true).await?;
    let deps = scheduler(&shop, &shop.bucket, &refusing);
    let stopped_at: Timestamp = "2026-12-04T19:00:00Z".parse()?;

    run(&deps, &request(RequestedAction::Stop), stopped_at, deadline(), "stop-2").await?;
    let start =
        run(&deps, &request(RequestedAction::Start), "2026-12-05T01:00:00Z".parse()?, deadline(), "start-2").await?;
    let savings = shop_report(&start).savings.as_ref().expect("savings");
    let saving = savings.saving.as_ref().expect("a saving");
    // Six hours of 7 instances; only the override and the spot price are known.
    assert_eq!(saving.instance_hours_off, 42.0);
    assert!(close(saving.usd.expect("partly priced"), 6.0 * (2.0 * 0.08 + 2.0 * EMULATOR_SPOT_PRICE)), "{saving:#?}");
    assert!(
        savings.note.starts_with("price unknown for 3 m5.large on-demand: pricing:GetProducts failed:"),
        "{}",
        savings.note
    );
    assert!(savings.note.contains("AccessDeniedException"), "{}", savings.note);
    assert!(savings.text().contains("[list price, excludes EBS and data transfer]"), "{}", savings.text());

    // A bucket that is not there: the stop is refused before anything is scaled, and says why.
    let missing = scheduler(&shop, "no-such-savings-bucket", &refusing);
    let report =
        run(&missing, &request(RequestedAction::Stop), "2026-12-05T19:00:00Z".parse()?, deadline(), "stop-3").await?;
    let failed = shop_report(&report);
    assert_eq!(failed.status, Status::Failed);
    assert!(
        failed.reason.starts_with("what it runs could not be recorded for the savings ledger, so it was not stopped"),
        "{}",
        failed.reason
    );
    assert!(failed.reason.contains("s3://no-such-savings-bucket/eks-scheduler/_state/stopped/"), "{}", failed.reason);
    assert!(failed.reason.contains("REPORT_BUCKET names no bucket"), "{}", failed.reason);
    assert_eq!(desired(&shop, "web").await?, 3, "nothing was scaled");
    Ok(())
}
