//! Costs for the cost report to read, queued in the emulator's Cost Explorer, budgets in
//! its AWS Budgets, and what it sent, counted through SES and read back as raw MIME.

use anyhow::{Context as _, Result};
use jiff::civil::Date;
use serde_json::{Value, json};

use super::{Moto, TestAccount};

/// A day of results: its date, whether it is estimated, and (service, amount) pairs.
pub type SeedDay = (Date, bool, Vec<(&'static str, String)>);

/// One `GetCostAndUsage` answer: for each day, whether it is estimated and (service, amount) pairs.
pub fn ce_page(days: &[SeedDay], next_page_token: Option<&str>) -> Value {
    let results: Vec<Value> = days
        .iter()
        .map(|(day, estimated, groups)| {
            let groups: Vec<Value> = groups
                .iter()
                .map(|(service, amount)| {
                    json!({"Keys": [service], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}})
                })
                .collect();
            let end = day.tomorrow().expect("tomorrow");
            json!({"TimePeriod": {"Start": day.to_string(), "End": end.to_string()}, "Total": {}, "Groups": groups, "Estimated": estimated})
        })
        .collect();
    let mut page = json!({"ResultsByTime": results, "DimensionValueAttributes": [], "GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}]});
    if let Some(token) = next_page_token {
        page["NextPageToken"] = json!(token);
    }
    page
}

/// Every day from `first` to `last`: EC2 varies by day, S3 is flat, Lambda is missing on
/// Sundays, and `last` has a spike; the last two days are estimated.
pub fn month_of_costs(first: Date, last: Date) -> Vec<SeedDay> {
    let mut days = Vec::new();
    let mut day = first;
    while day <= last {
        let ec2 = if day == last { "300.00".to_owned() } else { format!("{}.25", 100 + i32::from(day.day())) };
        let mut groups = vec![
            ("Amazon Elastic Compute Cloud - Compute", ec2),
            ("Amazon Simple Storage Service", "20.00".to_owned()),
        ];
        if day.weekday() != jiff::civil::Weekday::Sunday {
            groups.push(("AWS Lambda", "5.00".to_owned()));
        }
        let estimated = day >= last.yesterday().expect("day before");
        days.push((day, estimated, groups));
        day = day.tomorrow().expect("tomorrow");
    }
    days
}

pub async fn queue_cost_results(account: &TestAccount, results: Vec<Value>) -> Result<()> {
    let response = reqwest::Client::new()
        .post(format!("{}/moto-api/static/ce/cost-and-usage-results", Moto::shared().url()))
        .header("content-type", "application/json")
        .body(json!({"account_id": account.id, "results": results}).to_string())
        .send()
        .await?;
    anyhow::ensure!(response.status().as_u16() == 201, "queueing results: {}", response.status());
    Ok(())
}

/// Recipients emailed from this account, by SES v1's `GetSendQuota` (the emulator counts SES v2 sends there).
pub async fn emails_sent(account: &TestAccount) -> Result<u64> {
    let response = reqwest::Client::new()
        .post(format!("{}/", Moto::shared().url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-moto-account-id", &account.id)
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20261122/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body("Action=GetSendQuota&Version=2010-12-01")
        .send()
        .await?
        .text()
        .await?;
    let sent = response
        .split("<SentLast24Hours>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .with_context(|| format!("SentLast24Hours in {response}"))?;
    Ok(sent.parse::<f64>()? as u64)
}

/// The raw MIME messages SES sent from this account, oldest first (the emulator's outbox,
/// `scripts/moto_server.py`).
pub async fn raw_emails(account: &TestAccount) -> Result<Vec<String>> {
    let body = reqwest::Client::new()
        .get(format!("{}/_toolkit/ses-raw-messages?account={}", Moto::shared().url(), account.id))
        .send()
        .await?
        .text()
        .await?;
    let messages: Value = serde_json::from_str(&body)?;
    messages
        .as_array()
        .context("a list of messages")?
        .iter()
        .map(|message| message["raw_data"].as_str().map(str::to_owned).context("raw_data"))
        .collect()
}

/// A monthly cost budget of `limit` USD, with the spend and forecast AWS Budgets would
/// have calculated (the emulator calculates none), counting only `service` if given (a
/// `FilterExpression`).
pub async fn create_budget(
    account: &TestAccount,
    name: &str,
    limit: &str,
    actual: &str,
    forecast: &str,
    service: Option<&str>,
) -> Result<()> {
    use aws_sdk_budgets::types::{
        Budget, BudgetType, CalculatedSpend, Dimension, Expression, ExpressionDimensionValues, Spend, TimeUnit,
    };
    let budgets = shared::aws_client!(aws_sdk_budgets, &account.aws);
    let usd = |amount: &str| Spend::builder().amount(amount).unit("USD").build();
    let mut budget = Budget::builder()
        .budget_name(name)
        .budget_type(BudgetType::Cost)
        .time_unit(TimeUnit::Monthly)
        .budget_limit(usd(limit)?)
        .calculated_spend(
            CalculatedSpend::builder().actual_spend(usd(actual)?).forecasted_spend(usd(forecast)?).build(),
        );
    if let Some(service) = service {
        let only = ExpressionDimensionValues::builder().key(Dimension::Service).values(service).build()?;
        budget = budget.filter_expression(Expression::builder().dimensions(only).build());
    }
    budgets.create_budget().account_id(&account.id).budget(budget.build()?).send().await?;
    Ok(())
}
