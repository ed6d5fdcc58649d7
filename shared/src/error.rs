//! Error plumbing every function needs.
//!
//! The SDK's own `Display` for a failed call is often just "service error";
//! [`describe`] gives the sentence a reader needs: the AWS error code and message,
//! or that the endpoint could not be reached.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use lambda_runtime::Diagnostic;

/// Error codes AWS uses for throttling; worth retrying later.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// One line saying what went wrong with an AWS call: `Code: message` for a service error.
pub fn describe<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let status = service.raw().status().as_u16();
            match (inner.code(), inner.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => format!("{code} (HTTP {status})"),
                // No AWS error code: the body was not an AWS error (a proxy, or an action the endpoint lacks).
                _ => format!("HTTP {status} with no AWS error code"),
            }
        }
        SdkError::TimeoutError(_) => "the request to AWS timed out".to_owned(),
        SdkError::DispatchFailure(_) => {
            format!("could not reach the AWS endpoint: {}", DisplayErrorContext(err))
        }
        _ => DisplayErrorContext(err).to_string(),
    }
}

/// The AWS error code of a failed call, if the service sent one.
pub fn code<E>(err: &SdkError<E, HttpResponse>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

/// True when trying again later can succeed: throttling, a 5xx, a timeout or a
/// network failure. The SDK has already retried these before giving up.
pub fn is_transient<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(service) => {
            service.raw().status().is_server_error()
                || service.err().code().is_some_and(|code| THROTTLING_CODES.contains(&code))
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        _ => false,
    }
}

/// A Lambda error report with a stable type name, so alarms and retries can match on it.
pub fn diagnostic(error_type: &str, err: &dyn std::error::Error) -> Diagnostic {
    Diagnostic { error_type: error_type.to_owned(), error_message: err.to_string() }
}
