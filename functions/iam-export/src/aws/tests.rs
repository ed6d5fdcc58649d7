//! The paging and waiting loops, against scripted responses. The emulator always
//! answers `GetAccountAuthorizationDetails` in one page and has the credential report
//! ready at once, so these loops need scripted responses to be exercised at all.

use std::time::Duration;

use aws_sdk_iam::Client;
use aws_sdk_iam::operation::generate_credential_report::GenerateCredentialReportOutput;
use aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsOutput;
use aws_sdk_iam::operation::get_credential_report::{GetCredentialReportError, GetCredentialReportOutput};
use aws_sdk_iam::primitives::Blob;
use aws_sdk_iam::types::error::{CredentialReportExpiredException, CredentialReportNotReadyException};
use aws_sdk_iam::types::{ReportStateType, UserDetail as SdkUserDetail};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use tokio::time::Instant;

use super::*;

fn sdk_user(name: &str) -> SdkUserDetail {
    SdkUserDetail::builder().user_name(name).arn(format!("arn:aws:iam::123456789012:user/{name}")).path("/").build()
}

#[tokio::test]
async fn authorization_details_follow_the_marker_across_pages() {
    let first = mock!(Client::get_account_authorization_details)
        .match_requests(|req| req.marker().is_none() && req.max_items() == Some(1000))
        .then_output(|| {
            GetAccountAuthorizationDetailsOutput::builder()
                .user_detail_list(sdk_user("alice"))
                .user_detail_list(sdk_user("bob"))
                .is_truncated(true)
                .marker("page-2")
                .build()
        });
    let second = mock!(Client::get_account_authorization_details)
        .match_requests(|req| req.marker() == Some("page-2"))
        .then_output(|| {
            GetAccountAuthorizationDetailsOutput::builder()
                .user_detail_list(sdk_user("carol"))
                .is_truncated(false)
                .build()
        });
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&first, &second]);

    let (users, roles, _) = authorization_details(&iam, false).await.expect("both pages");

    let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    assert!(roles.is_empty());
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

fn generated(state: ReportStateType) -> aws_smithy_mocks::Rule {
    mock!(Client::generate_credential_report)
        .then_output(move || GenerateCredentialReportOutput::builder().state(state.clone()).build())
}

fn not_ready() -> GetCredentialReportError {
    GetCredentialReportError::CredentialReportNotReadyException(
        CredentialReportNotReadyException::builder().message("Report is not ready").build(),
    )
}

fn report_ready() -> GetCredentialReportOutput {
    GetCredentialReportOutput::builder()
        .content(Blob::new("user,arn\n"))
        .generated_time(DateTime::from_secs(1_780_000_000))
        .build()
}

#[tokio::test(start_paused = true)]
async fn credential_report_is_polled_with_backoff_until_ready() {
    let generate = generated(ReportStateType::Started);
    let get = mock!(Client::get_credential_report).sequence().error(not_ready).times(3).output(report_ready).build();
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&generate, &get]);
    let start = Instant::now();

    let report = credential_report(&iam, Duration::from_secs(60)).await.expect("ready on the fourth read");

    assert_eq!(report.content, "user,arn\n");
    assert_eq!(report.generated_at, Some(Timestamp::from_second(1_780_000_000).expect("valid")));
    assert_eq!(get.num_calls(), 4);
    assert_eq!(generate.num_calls(), 1);
    assert_eq!(start.elapsed(), Duration::from_secs(1 + 2 + 4), "waits double between reads");
}

#[tokio::test(start_paused = true)]
async fn credential_report_wait_is_bounded_by_the_budget() {
    let generate = generated(ReportStateType::Inprogress);
    let get = mock!(Client::get_credential_report).sequence().error(not_ready).repeatedly().build();
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&generate, &get]);
    let start = Instant::now();

    let err = credential_report(&iam, Duration::from_secs(20)).await.expect_err("never ready");

    assert!(matches!(err, IamExportError::CredentialReportTimeout { waited_seconds: 15 }), "{err:?}");
    assert!(err.is_transient());
    assert!(start.elapsed() <= Duration::from_secs(20), "stays inside the budget");
    assert_eq!(get.num_calls(), 5, "reads at 0, 1, 3, 7 and 15 seconds");
}

#[tokio::test(start_paused = true)]
async fn an_expired_report_is_generated_again() {
    let generate = mock!(Client::generate_credential_report)
        .sequence()
        .output(|| GenerateCredentialReportOutput::builder().state(ReportStateType::Complete).build())
        .output(|| GenerateCredentialReportOutput::builder().state(ReportStateType::Started).build())
        .build();
    let get = mock!(Client::get_credential_report)
        .sequence()
        .error(|| {
            GetCredentialReportError::CredentialReportExpiredException(
                CredentialReportExpiredException::builder().message("expired").build(),
            )
        })
        .output(report_ready)
        .build();
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&generate, &get]);

    credential_report(&iam, Duration::from_secs(60)).await.expect("regenerated");

    assert_eq!(generate.num_calls(), 2);
}
