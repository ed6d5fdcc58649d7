//! The EKS scheduler's `report` run, end to end with an injected clock: the coverage report
//! across an organization (scheduled, stop-tagged, unscheduled and non-production clusters in
//! two members and two regions; hours off last week from the ledger that real stops and
//! starts wrote; what the suggested schedule would save), its CSV and its one announcement;
//! and the calendar file, parsed back by an iCalendar library and compared with the times
//! the scheduler's own `auto` runs would act at, across the change to summer time.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use aws_sdk_eks::types::CapacityTypes;
use eks_scheduler::core::{CoverageRow, Request, RequestedAction, Schedule};
use eks_scheduler::{Config, Deps, run};
use icalendar::{CalendarComponent, CalendarDateTime, Component as _, DatePerhapsTime};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use support::eks_seed::{add_nodegroup, seed};
use support::org_seed::{EXTERNAL_ID, Org};
use support::price_list::PriceListApi;
use support::sqs::Queue;
use support::{Moto, TestAccount};

const PARIS_OFFICE: &str = "off=mon-fri@19:00 on=mon-fri@07:00 tz=Europe/Paris";

fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + std::time::Duration::from_secs(120)
}

async fn object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<String> {
    let output =
        s3.get_object().bucket(bucket).key(key).send().await.with_context(|| format!("s3://{bucket}/{key}"))?;
    Ok(String::from_utf8(output.body.collect().await?.into_bytes().to_vec())?)
}

/// A cluster with one nodegroup of `instance_type` (and a Fargate profile, which runs no instances).
async fn cluster(
    eks: &aws_sdk_eks::Client,
    name: &str,
    tags: &[(&str, &str)],
    instance_type: &str,
    capacity: CapacityTypes,
    size: &str,
) -> Result<()> {
    seed(eks, &[(name, tags, &[])]).await?;
    add_nodegroup(eks, name, "main", &[instance_type], capacity, size).await
}

#[tokio::test]
async fn the_coverage_report_lists_every_cluster_of_the_organization_and_prices_what_a_schedule_would_save()
-> Result<()> {
    // Given an organization: member 0 runs dev (non-production, unscheduled) and prod in
    // us-east-1; member 1 runs qa (scheduled) and staging (stop tags) in eu-west-1, and a
    // sandbox of an instance type no price is known for; the hub runs tools (Fargate only).
    let org = Org::new(2).await?;
    let (zero, one) = (&org.members[0].account, &org.members[1].account);
    let east = |account: &TestAccount| shared::aws_client!(aws_sdk_eks, &account.aws.in_region("us-east-1"));
    let west = |account: &TestAccount| shared::aws_client!(aws_sdk_eks, &account.aws.in_region("eu-west-1"));
    cluster(&east(zero), "dev", &[("environment", "dev")], "m5.large", CapacityTypes::OnDemand, "1/2/4").await?;
    cluster(&east(zero), "prod", &[("environment", "production")], "m5.large", CapacityTypes::OnDemand, "3/3/6")
        .await?;
    let qa_tags = [("environment", "test"), ("eks-scheduler/schedule", PARIS_OFFICE)];
    cluster(&west(one), "qa", &qa_tags, "c5.xlarge", CapacityTypes::OnDemand, "1/1/2").await?;
    let staging_tags = [("environment", "Staging"), ("auto-stop", "true"), ("auto-start", "true")];
    cluster(&west(one), "staging", &staging_tags, "m5.large", CapacityTypes::Spot, "0/2/2").await?;
    cluster(&east(one), "sandbox", &[("environment", "dev")], "x9.weird", CapacityTypes::OnDemand, "1/1/1").await?;
    seed(&east(&org.hub), &[("tools", &[], &[])]).await?;

    let prices = PriceListApi::start(&[("m5.large", "0.0960000000"), ("c5.xlarge", "0.1700000000")], false).await?;
    let bucket = org.hub.bucket("coverage");
    let s3 = org.hub.aws.s3();
    s3.create_bucket().bucket(&bucket).send().await?;
    let sns = shared::aws_client!(aws_sdk_sns, &org.hub.aws);
    let id = format!("{}-{}", std::process::id(), Timestamp::now().as_millisecond());
    let topic = sns.create_topic().name(format!("coverage-{id}")).send().await?.topic_arn.context("topic")?;
    let topic_queue = Queue::create_in_account(Moto::shared().url(), &format!("coverage-{id}"), &org.hub.id).await?;
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(&topic_queue.arn).send().await?;
    let settings = [
        ("ACCOUNTS", "organization"),
        ("REGIONS", "us-east-1,eu-west-1"),
        ("MEMBER_EXTERNAL_ID", EXTERNAL_ID),
        ("REPORT_BUCKET", bucket.as_str()),
        ("PRICING_ENDPOINT_URL", prices.url.as_str()),
        ("NOTIFY_TOPIC_ARN", topic.as_str()),
        ("NOTICE_MINUTES", "0"),
    ];
    let config = shared::config::parse_settings(Config::from_env, &settings).map_err(anyhow::Error::msg)?;
    let deps = Deps::new(config, &org.hub.aws);

    // and a week of the scheduler's own work, in the ledger: qa stopped Tuesday evening and
    // started Wednesday morning (12 hours), stopped again Friday evening; staging stopped Saturday night.
    let auto = Request { action: RequestedAction::Auto, dry_run: false, clusters: None };
    let stop = Request { action: RequestedAction::Stop, dry_run: false, clusters: None };
    for (request, at) in [
        (&auto, "2026-12-01T18:05:00Z"),
        (&auto, "2026-12-02T06:05:00Z"),
        (&auto, "2026-12-04T18:05:00Z"),
        (&stop, "2026-12-05T20:00:00Z"),
    ] {
        let report = run(&deps, request, at.parse()?, deadline(), &format!("run-{at}")).await?;
        assert!(report.failure_summary().is_none(), "{report:#?}");
        drain(&topic_queue).await?;
    }

    // When the report runs on Sunday morning
    let now: Timestamp = "2026-12-06T10:00:00Z".parse()?;
    let report = eks_scheduler::coverage::handle(&deps, now, "report-1").await?;

    // Then every cluster of every account and region is a row
    let rows: BTreeMap<String, &CoverageRow> =
        report.clusters.iter().map(|row| (format!("{}/{}/{}", row.account, row.region, row.cluster), row)).collect();
    let key = |account: &TestAccount, region: &str, name: &str| format!("{}/{region}/{name}", account.id);
    let row = |k: String| rows.get(&k).copied().with_context(|| format!("{k} in {rows:#?}"));
    assert_eq!(rows.len(), 6, "{rows:#?}");

    let dev = row(key(zero, "us-east-1", "dev"))?;
    assert_eq!((dev.coverage.is_scheduled(), dev.non_production), (false, true));
    assert_eq!((dev.capacity.as_str(), dev.instances, dev.usd_an_hour), ("2 m5.large on-demand", Some(2), Some(0.192)));
    // Weekdays 19:00 to 07:00 and the weekend off: 108 of a week's 168 hours, over a
    // 730-hour month, at 2 x $0.096 an hour.
    assert_eq!(dev.suggested_hours_off_a_month, Some(469.3));
    assert_eq!(dev.suggested_usd_a_month, Some(90.1));

    let prod = row(key(zero, "us-east-1", "prod"))?;
    assert_eq!((prod.non_production, prod.instances, prod.suggested_usd_a_month), (false, Some(3), None));

    let qa = row(key(one, "eu-west-1", "qa"))?;
    assert_eq!((qa.coverage.is_scheduled(), qa.schedule.as_str()), (true, PARIS_OFFICE));
    // Stopped now: nothing runs, nothing costs; 12 hours (Tuesday night) and the 39 h 55 min since Friday 18:05.
    assert_eq!((qa.instances, qa.usd_an_hour), (Some(0), Some(0.0)));
    assert_eq!(qa.hours_off_last_week, 51.92);
    assert_eq!(qa.suggested_hours_off_a_month, None, "a scheduled cluster gets no suggestion");

    let staging = row(key(one, "eu-west-1", "staging"))?;
    assert_eq!((staging.schedule.as_str(), staging.non_production), ("auto-stop=true", true));
    assert_eq!(staging.hours_off_last_week, 14.0);

    let sandbox = row(key(one, "us-east-1", "sandbox"))?;
    assert_eq!((sandbox.suggested_hours_off_a_month, sandbox.suggested_usd_a_month), (Some(469.3), None));
    assert!(sandbox.note.contains("price unknown for 1 x9.weird on-demand"), "{}", sandbox.note);

    let tools = row(key(&org.hub, "us-east-1", "tools"))?;
    assert_eq!((tools.instances, tools.non_production, tools.hours_off_last_week), (Some(0), false, 0.0));

    let totals = &report.totals;
    assert_eq!((totals.clusters, totals.scheduled, totals.unscheduled, totals.candidates), (6, 2, 4, 2));
    assert_eq!((totals.instances_running, totals.instances_unscheduled), (6, 6));
    assert_eq!((totals.hours_off_last_week, totals.suggested_usd_a_month), (65.92, 90.1));
    assert_eq!(report.sites.len(), 6, "the hub and two members, in two regions each: {:#?}", report.sites);

    // and the CSV in the report bucket holds the same rows
    assert_eq!(report.csv, format!("s3://{bucket}/eks-scheduler/coverage/2026-12-06.csv"));
    let csv = object(&s3, &bucket, "eks-scheduler/coverage/2026-12-06.csv").await?;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let written: Vec<BTreeMap<String, String>> = reader.deserialize().collect::<Result<_, _>>()?;
    assert_eq!(written.len(), 6);
    let dev_line = written.iter().find(|l| l["cluster"] == "dev").context("dev's line")?;
    assert_eq!(
        (dev_line["coverage"].as_str(), dev_line["usd_an_hour"].as_str(), dev_line["suggested_usd_a_month"].as_str()),
        ("unscheduled", "0.192", "90.1")
    );

    // and one announcement says it all
    let messages = topic_queue.receive(10, std::time::Duration::from_secs(30), 5).await?;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let envelope: Value = serde_json::from_str(&messages[0].body)?;
    assert_eq!(envelope["Subject"], "EKS Scheduler Coverage Report: 4 of 6 clusters unscheduled, 2 candidates");
    let detail: Value = serde_json::from_str(envelope["Message"].as_str().unwrap_or("null"))?;
    assert_eq!(detail["candidates"][0]["cluster"], "dev");
    assert_eq!(detail["csv"], report.csv.as_str());
    assert!(detail["summary"].as_str().is_some_and(|s| s.contains("would save about $90.10 a month")), "{detail}");
    Ok(())
}

/// Empties the topic's queue of what the scaling runs announced.
async fn drain(queue: &Queue) -> Result<()> {
    let received = queue.receive(10, std::time::Duration::from_secs(30), 1).await?;
    queue.delete(&received.iter().collect::<Vec<_>>()).await?;
    Ok(())
}

#[tokio::test]
async fn the_calendar_holds_each_planned_stop_and_start_and_skip_day_across_the_change_to_summer_time() -> Result<()> {
    // Given a cluster on Paris office hours that skips Friday 26 March, seen on Saturday 20 March 2027
    let account = TestAccount::new().await;
    let eks = shared::aws_client!(aws_sdk_eks, &account.aws);
    let schedule_tag = format!("{PARIS_OFFICE} skip=2027-03-26");
    seed(&eks, &[("paris", &[("eks-scheduler/schedule", schedule_tag.as_str())], &[("ng", "1/2/3")])]).await?;
    let bucket = account.bucket("calendar");
    account.aws.s3().create_bucket().bucket(&bucket).send().await?;
    let prices = PriceListApi::start(&[("t3.medium", "0.0416000000")], false).await?;
    let settings = [("REPORT_BUCKET", bucket.as_str()), ("PRICING_ENDPOINT_URL", prices.url.as_str())];
    let config = shared::config::parse_settings(Config::from_env, &settings).map_err(anyhow::Error::msg)?;
    let deps = Deps::new(config, &account.aws);
    let now: Timestamp = "2027-03-20T12:00:00Z".parse()?;

    // When the report runs
    let report = eks_scheduler::coverage::report(&deps, now).await?;

    // Then the calendar beside it, parsed by an iCalendar library,
    assert_eq!(report.calendar, format!("s3://{bucket}/eks-scheduler/calendar.ics"));
    let text = object(&account.aws.s3(), &bucket, "eks-scheduler/calendar.ics").await?;
    let calendar: icalendar::Calendar = text.parse().map_err(anyhow::Error::msg)?;
    let mut moments: Vec<(String, Timestamp)> = Vec::new();
    let mut all_day: Vec<String> = Vec::new();
    for component in &calendar.components {
        let CalendarComponent::Event(event) = component else { continue };
        let summary = event.get_summary().unwrap_or_default().to_owned();
        match event.get_start().context("DTSTART")? {
            // Written in UTC, so any calendar shows it at the same instant.
            DatePerhapsTime::DateTime(CalendarDateTime::Utc(utc)) => {
                moments.push((summary, Timestamp::from_second(utc.timestamp())?));
            }
            DatePerhapsTime::DateTime(other) => anyhow::bail!("{summary}: a time not in UTC: {other:?}"),
            DatePerhapsTime::Date(date) => all_day.push(format!("{date} {summary}")),
        }
    }
    moments.sort_by_key(|(_, at)| *at);

    // holds exactly the moments the auto runs would act at over the 14 days, found one after
    // the other as they find them,
    let schedule = Schedule::parse(&schedule_tag, "UTC").map_err(anyhow::Error::msg)?;
    let until = now + SignedDuration::from_hours(14 * 24);
    let mut expected = Vec::new();
    let mut cursor = now;
    while let Some(next) = schedule.next_transition(cursor).filter(|t| t.at <= until) {
        let what = if next.action == eks_scheduler::core::Action::Stop { "Stop" } else { "Start" };
        expected.push((format!("{what}: paris"), next.at));
        cursor = next.at;
    }
    assert_eq!(moments, expected);
    // 9 weekdays but the skipped Friday: 18 moments, at 19:00 and 07:00 Paris time, which is
    // 18:00 and 06:00 UTC in winter and 17:00 and 05:00 UTC from Sunday 28 March.
    assert_eq!(moments.len(), 18);
    let at = |text: &str| text.parse::<Timestamp>().expect("a time");
    assert!(moments.contains(&("Stop: paris".to_owned(), at("2027-03-22T18:00:00Z"))));
    assert!(moments.contains(&("Start: paris".to_owned(), at("2027-03-29T05:00:00Z"))));
    assert!(moments.contains(&("Stop: paris".to_owned(), at("2027-03-29T17:00:00Z"))));
    assert!(!moments.iter().any(|(_, t)| t.to_string().starts_with("2027-03-26")), "the skipped Friday");
    // and the skipped day as an all-day event.
    assert_eq!(all_day, ["2027-03-26 No stop or start: paris (skip day)"]);
    Ok(())
}
