//! Thin async functions over Cost Explorer, AWS Budgets and SES: paging, and conversion
//! from SDK types to core types.

use std::str::FromStr;

use aws_sdk_costexplorer::types::{
    DateInterval, DimensionValues, Expression, Granularity, GroupDefinition, GroupDefinitionType,
};
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{EmailContent as SesContent, RawMessage};
use jiff::civil::Date;
use rust_decimal::Decimal;
use shared::error::{describe, is_transient};

use crate::config::EmailTarget;
use crate::core::{
    self, Budget, CostDay, CostQuery, Dimension, EmailContent, ForecastOutcome, ForecastQuery, GroupBy, Metric,
    RecordTypes,
};
use crate::error::CostReportError;

/// Every page of the one `GetCostAndUsage` request, as core days (pages not merged yet).
pub async fn cost_and_usage(
    ce: &aws_sdk_costexplorer::Client,
    query: &CostQuery,
) -> Result<Vec<CostDay>, CostReportError> {
    let groupings: Vec<GroupDefinition> = query
        .group_by
        .dimensions()
        .iter()
        .map(|dimension| {
            let (kind, key) = match dimension {
                Dimension::Service => (GroupDefinitionType::Dimension, "SERVICE"),
                Dimension::LinkedAccount => (GroupDefinitionType::Dimension, "LINKED_ACCOUNT"),
                Dimension::Tag(tag) => (GroupDefinitionType::Tag, tag.as_str()),
                Dimension::CostCategory(name) => (GroupDefinitionType::CostCategory, name.as_str()),
            };
            GroupDefinition::builder().r#type(kind).key(key).build()
        })
        .collect();
    let metric = query.metric.as_str();
    let mut days = Vec::new();
    let mut page_token: Option<String> = None;
    loop {
        let output = ce
            .get_cost_and_usage()
            .time_period(interval(query.start, query.end_exclusive)?)
            .granularity(Granularity::Daily)
            .metrics(metric)
            .set_group_by(Some(groupings.clone()))
            .set_filter(record_type_filter(query.record_types))
            .set_next_page_token(page_token.take())
            .send()
            .await
            .map_err(|err| CostReportError::CostExplorer {
                operation: "GetCostAndUsage",
                message: describe(&err),
                transient: is_transient(&err),
            })?;
        for result in output.results_by_time() {
            let start = result.time_period().map(|p| p.start()).unwrap_or_default();
            let date = Date::from_str(start).map_err(|_| {
                CostReportError::CostExplorerAnswer(format!("a result starts on {start:?}, not a date"))
            })?;
            let mut unit = None;
            let mut groups = Vec::new();
            for group in result.groups() {
                let name = GroupBy::join_keys(group.keys());
                if let Some(value) = group.metrics().and_then(|m| m.get(metric)) {
                    groups.push((name, amount(value.amount())?));
                    unit = unit.or_else(|| value.unit().map(str::to_owned));
                }
            }
            days.push(CostDay { date, estimated: result.estimated(), groups, unit });
        }
        page_token = output.next_page_token().filter(|t| !t.is_empty()).map(str::to_owned);
        if page_token.is_none() {
            return Ok(days);
        }
    }
}

/// The forecast total for the rest of the month. Tried once, not retried: the figure is
/// optional, and each Cost Explorer request is billed.
pub async fn cost_forecast(
    ce: &aws_sdk_costexplorer::Client,
    query: &ForecastQuery,
    metric: Metric,
) -> ForecastOutcome {
    let no_retries = aws_sdk_costexplorer::config::Builder::default()
        .retry_config(aws_sdk_costexplorer::config::retry::RetryConfig::disabled());
    let period = match interval(query.start, query.end_exclusive) {
        Ok(period) => period,
        Err(err) => return ForecastOutcome::Failed { reason: err.to_string(), permanent: true },
    };
    let answer = ce
        .get_cost_forecast()
        .time_period(period)
        .metric(metric.forecast_name().into())
        .granularity(Granularity::Monthly)
        .set_filter(record_type_filter(query.record_types))
        .customize()
        .config_override(no_retries)
        .send()
        .await;
    let output = match answer {
        Ok(output) => output,
        Err(err) if err.as_service_error().is_some_and(|e| e.is_data_unavailable_exception()) => {
            return ForecastOutcome::NotEnoughData;
        }
        Err(err) => {
            let transient = is_transient(&err);
            let mut reason = format!("Cost Explorer GetCostForecast failed: {}", describe(&err));
            if shared::error::code(&err).is_some_and(|code| code.contains("AccessDenied")) {
                reason.push_str("; allow ce:GetCostForecast to the function's role");
            }
            return ForecastOutcome::Failed { reason, permanent: !transient };
        }
    };
    let total = output.total().and_then(|t| t.amount());
    match total.map(|text| amount(Some(text))) {
        Some(Ok(amount)) => ForecastOutcome::Rest { amount },
        Some(Err(err)) => ForecastOutcome::Failed { reason: err.to_string(), permanent: true },
        None => {
            ForecastOutcome::Failed { reason: "Cost Explorer returned no forecast total".to_owned(), permanent: false }
        }
    }
}

/// Every budget of `account` (`DescribeBudgets`, free), as core budgets: each with the
/// limit of the month starting `month_start` (its planned one, for a planned budget).
pub async fn budgets(
    client: &aws_sdk_budgets::Client,
    account: &str,
    month_start: Date,
) -> Result<Vec<Budget>, CostReportError> {
    // A planned budget's limits are keyed by the period's start, in seconds since the epoch (UTC).
    let period_key = month_start
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map(|start| start.timestamp().as_second().to_string())
        .unwrap_or_default();
    let mut budgets = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let output = client
            .describe_budgets()
            .account_id(account)
            .max_results(100)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|err| {
                let fix = if shared::error::code(&err).is_some_and(|code| code.contains("AccessDenied")) {
                    "; allow budgets:ViewBudget to the function's role, or set BUDGET=off"
                } else {
                    ""
                };
                CostReportError::Budgets {
                    message: format!("AWS Budgets DescribeBudgets failed: {}{fix}", describe(&err)),
                    transient: is_transient(&err),
                }
            })?;
        for budget in output.budgets() {
            let limit = spend(budget.planned_budget_limits().and_then(|limits| limits.get(&period_key)))
                .or_else(|| spend(budget.budget_limit()));
            let calculated = budget.calculated_spend();
            budgets.push(Budget {
                name: budget.budget_name().to_owned(),
                kind: budget.budget_type().as_str().to_owned(),
                time_unit: budget.time_unit().as_str().to_owned(),
                limit: limit.map(|(amount, _)| amount),
                unit: limit.map(|(_, unit)| unit.to_owned()).unwrap_or_default(),
                actual: spend(calculated.and_then(|c| c.actual_spend())).map(|(amount, _)| amount),
                forecast: spend(calculated.and_then(|c| c.forecasted_spend())).map(|(amount, _)| amount),
                // Budgets made before `FilterExpression` still hold `CostFilters`.
                #[allow(deprecated)]
                filtered: budget.cost_filters().is_some_and(|filters| !filters.is_empty())
                    || budget.filter_expression().is_some(),
            });
        }
        next_token = output.next_token().filter(|t| !t.is_empty()).map(str::to_owned);
        if next_token.is_none() {
            return Ok(budgets);
        }
    }
}

/// A budget's amount and its unit, when it is a number.
fn spend(spend: Option<&aws_sdk_budgets::types::Spend>) -> Option<(Decimal, &str)> {
    spend.and_then(|spend| Decimal::from_str(spend.amount()).ok().map(|amount| (amount, spend.unit())))
}

/// A secret's string value. The value is a secret: it is never logged, and no error holds it.
pub async fn secret_string(secrets: &aws_sdk_secretsmanager::Client, arn: &str) -> Result<String, CostReportError> {
    let failed = |reason: String| CostReportError::SlackSecret { arn: arn.to_owned(), reason };
    let output = secrets.get_secret_value().secret_id(arn).send().await.map_err(|err| {
        let fix = match shared::error::code(&err) {
            Some("ResourceNotFoundException") => "; create it, or set SLACK_WEBHOOK_SECRET_ARN to an existing secret",
            Some("AccessDeniedException") => {
                "; allow secretsmanager:GetSecretValue on it to the function's role (and kms:Decrypt on its key, if it has its own)"
            }
            _ => "",
        };
        failed(format!("GetSecretValue failed: {}{fix}", describe(&err)))
    })?;
    output.secret_string().map(str::to_owned).ok_or_else(|| failed("the secret has no string value".to_owned()))
}

/// Reads of an object whose body was cut short (the SDK retries the request, not the
/// body that follows its answer).
const BODY_READS: usize = 3;

/// The object at `key`, or `None` when there is none.
pub async fn read_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, CostReportError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match s3.get_object().bucket(bucket).key(key).send().await {
            Ok(output) => match output.body.collect().await {
                Ok(body) => return Ok(Some(body.into_bytes().to_vec())),
                Err(_) if attempt < BODY_READS => {}
                Err(err) => {
                    // A body cut short every time: the connection, not the object.
                    let message = format!("reading s3://{bucket}/{key} failed: {err}");
                    return Err(CostReportError::S3 { message, transient: true });
                }
            },
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            Err(err) => {
                let message = format!("reading s3://{bucket}/{key} failed: {}", describe(&err));
                return Err(CostReportError::S3 { message, transient: is_transient(&err) });
            }
        }
    }
}

/// Sends the report by SES v2 as one raw MIME message (`core::render_mime`): the HTML and
/// text, the chart inline, the CSV files attached (file name, bytes). The recipients come
/// from its `To` header.
pub async fn send_email(
    ses: &aws_sdk_sesv2::Client,
    target: &EmailTarget,
    email: &EmailContent,
    attachments: &[(&str, &[u8])],
) -> Result<(), CostReportError> {
    let raw = core::render_mime(&target.from, &target.to, email, attachments);
    let message = RawMessage::builder()
        .data(Blob::new(raw))
        .build()
        .map_err(|e| CostReportError::Email { message: format!("building the email: {e}"), transient: false })?;
    ses.send_email()
        .from_email_address(&target.from)
        .content(SesContent::builder().raw(message).build())
        .send()
        .await
        .map(|_| ())
        .map_err(|err| {
            let rejected = err.as_service_error().is_some_and(|e| e.is_message_rejected());
            let message = if rejected {
                format!(
                    "SES rejected the email from {}: {}; verify that address (or its domain) in SES, and while the account is in the SES sandbox, the recipients too",
                    target.from,
                    describe(&err)
                )
            } else {
                format!("SES SendEmail failed: {}", describe(&err))
            };
            CostReportError::Email { message, transient: is_transient(&err) }
        })
}

/// Leaves out the record types `record_types` does not count: `Not` a `RECORD_TYPE` list.
fn record_type_filter(record_types: RecordTypes) -> Option<Expression> {
    let excluded = record_types.excluded();
    if excluded.is_empty() {
        return None;
    }
    let values = DimensionValues::builder()
        .key(aws_sdk_costexplorer::types::Dimension::RecordType)
        .set_values(Some(excluded.iter().map(|value| (*value).to_owned()).collect()))
        .build();
    Some(Expression::builder().not(Expression::builder().dimensions(values).build()).build())
}

fn interval(start: Date, end_exclusive: Date) -> Result<DateInterval, CostReportError> {
    DateInterval::builder()
        .start(start.to_string())
        .end(end_exclusive.to_string())
        .build()
        .map_err(|err| CostReportError::CostExplorerAnswer(err.to_string()))
}

fn amount(text: Option<&str>) -> Result<Decimal, CostReportError> {
    let text = text.unwrap_or("0");
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .map_err(|_| CostReportError::CostExplorerAnswer(format!("amount {text:?} is not a number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_leaves_out_credits_refunds_and_discounts_and_all_filters_nothing() {
        let filter = record_type_filter(RecordTypes::Usage).expect("a filter");
        let values = filter.not().and_then(|inner| inner.dimensions()).expect("Not of a dimension list");
        assert_eq!(values.key(), Some(&aws_sdk_costexplorer::types::Dimension::RecordType));
        assert_eq!(values.values(), RecordTypes::EXCLUDED.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>());
        assert!(values.values().contains(&"Credit".to_owned()) && values.values().contains(&"Refund".to_owned()));
        assert!(record_type_filter(RecordTypes::All).is_none());
    }
}
