//! What one export tells CloudWatch: its heartbeat, what it exported, what it found, and
//! what it cost in IAM calls. docs/operations/metrics.md lists them.

use shared::accounts::AccountStatus;
use shared::metrics::{Metrics, Unit};

use crate::core::ExportSummary;
use crate::error::IamExportError;

/// The metrics of one run, a success or a failure. `api_calls`: HTTP requests sent to AWS.
pub fn of_run(result: &Result<ExportSummary, IamExportError>, api_calls: u64) -> Metrics {
    let mut metrics = Metrics::of_run(result.is_ok());
    metrics.count("ApiCalls", api_calls);
    match result {
        Ok(summary) => {
            metrics
                .count("Users", summary.user_count)
                .count("Roles", summary.role_count)
                .count("UsersNotInCredentialReport", summary.users_not_in_credential_report)
                .count("FindingsConsoleWithoutMfa", summary.findings.no_mfa_with_console)
                .count("FindingsKeyOlderThan90Days", summary.findings.key_older_than_90d)
                .count("FindingsUnused45Days", summary.findings.unused_45d)
                .count("Admins", summary.findings.admins)
                .count("AdminsWithoutMfa", summary.findings.admins_without_mfa)
                .count("IdentitiesToRemove", summary.findings.to_remove)
                .count("IdentitiesToReview", summary.findings.to_review);
            if let Some(center) = &summary.identity_center {
                metrics
                    .count("IdentityCenterUsers", center.users)
                    .count("IdentityCenterAdmins", center.findings.admins)
                    .count("IdentityCenterAccessRows", center.access_rows);
            }
            if let Some(age) = summary.credential_report_age_seconds {
                metrics.put("CredentialReportAge", Unit::Seconds, age.max(0) as f64);
            }
            if !summary.accounts.is_empty() {
                let exported = summary.accounts.iter().filter(|a| a.status == AccountStatus::Ok).count();
                metrics.count("AccountsExported", exported).count("AccountsFailed", 0);
            }
        }
        Err(err) => {
            if let IamExportError::AccountsFailed { failed, total, .. } = err {
                // The export was written without these accounts: the alarm needs the count.
                metrics.count("AccountsExported", total - failed.len()).count("AccountsFailed", failed.len());
            }
            metrics.property("ErrorType", err.error_type()).property("Error", err.to_string());
        }
    }
    metrics
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared::metrics::{MetricsConfig, check_document};

    use super::*;
    use crate::core::FindingCounts;

    fn summary() -> ExportSummary {
        ExportSummary {
            bucket: "audit".into(),
            keys: vec!["iam-export/users.csv".into()],
            user_count: 7,
            role_count: 3,
            root_account_included: true,
            users_not_in_credential_report: 1,
            credential_report_generated_at: Some("2026-11-23T01:00:00Z".into()),
            credential_report_age_seconds: Some(600),
            findings: FindingCounts {
                no_mfa_with_console: 2,
                key_older_than_90d: 4,
                unused_45d: 5,
                admins: 3,
                admins_without_mfa: 1,
                to_remove: 6,
                to_review: 2,
            },
            api_calls: 12,
            identity_center: Some(crate::core::IdentityCenterSummary {
                instance_arn: "arn:aws:sso:::instance/ssoins-0123456789abcdef".into(),
                users: 40,
                permission_sets: 6,
                access_rows: 90,
                findings: FindingCounts { admins: 4, to_remove: 1, ..FindingCounts::default() },
                assignments_read: "by-principal",
                accounts_unreadable: Vec::new(),
            }),
            accounts: Vec::new(),
        }
    }

    #[test]
    fn a_success_counts_what_was_exported_and_found() {
        let document = of_run(&Ok(summary()), 12).document(&MetricsConfig::local("iam-export"), 0);
        check_document(&document).unwrap_or_else(|err| panic!("{err}: {document}"));
        for (name, value) in [
            ("Succeeded", 1),
            ("ApiCalls", 12),
            ("Users", 7),
            ("Roles", 3),
            ("FindingsConsoleWithoutMfa", 2),
            ("FindingsKeyOlderThan90Days", 4),
            ("FindingsUnused45Days", 5),
            ("Admins", 3),
            ("AdminsWithoutMfa", 1),
            ("IdentitiesToRemove", 6),
            ("IdentitiesToReview", 2),
            ("CredentialReportAge", 600),
            ("IdentityCenterUsers", 40),
            ("IdentityCenterAdmins", 4),
            ("IdentityCenterAccessRows", 90),
        ] {
            assert_eq!(document[name], json!(f64::from(value)), "{name}");
        }
    }

    #[test]
    fn a_failure_has_a_zero_heartbeat_and_says_why() {
        let failure = Err(IamExportError::BucketNotFound { bucket: "gone".into() });
        let document = of_run(&failure, 1).document(&MetricsConfig::local("iam-export"), 0);
        check_document(&document).unwrap_or_else(|err| panic!("{err}: {document}"));
        assert_eq!(document["Succeeded"], json!(0.0));
        assert_eq!(document["ApiCalls"], json!(1.0));
        assert_eq!(document["ErrorType"], json!("ReportBucketUnavailable"));
        assert!(document.get("Users").is_none());
    }

    #[test]
    fn an_organization_run_counts_its_accounts() {
        let failure = Err(IamExportError::AccountsFailed {
            failed: vec!["111111111111: AccessDenied".into(), "222222222222: throttled".into()],
            total: 50,
            summary_key: "s3://audit/iam-accounts.json".into(),
        });
        let document = of_run(&failure, 300).document(&MetricsConfig::local("iam-export"), 0);
        check_document(&document).unwrap_or_else(|err| panic!("{err}: {document}"));
        assert_eq!(
            (
                &document["Succeeded"],
                &document["AccountsExported"],
                &document["AccountsFailed"],
                &document["ErrorType"]
            ),
            (&json!(0.0), &json!(48.0), &json!(2.0), &json!("AccountsFailed"))
        );
    }
}
