//! What one batch tells CloudWatch: the images it processed and the thumbnails it wrote,
//! its rejections by class, its transient failures, the megabytes it read, the time its
//! images took, its size, and the time left at its end.

use imaging::RejectionClass;
use shared::metrics::{Metrics, Unit};

use crate::core::{Measured, Outcome, Response, Trigger};
use crate::error::ThumbnailerError;

/// The metrics of one batch. Its heartbeat is 1 when nothing has to be tried again.
/// `time_left_ms`: before Lambda's deadline, when the invocation has one.
pub fn of_batch(
    processed: &Result<(Trigger, Response), ThumbnailerError>,
    measured: &Measured,
    time_left_ms: Option<f64>,
) -> Metrics {
    let response = processed.as_ref().ok().map(|(_, response)| response);
    let outcomes = |outcome: Outcome| response.map_or(0, |r| r.results.iter().filter(|o| o.outcome == outcome).count());
    let transient = outcomes(Outcome::Retry);
    let mut metrics = Metrics::of_run(processed.is_ok() && transient == 0);
    if let Some(time_left_ms) = time_left_ms {
        metrics.put("TimeLeft", Unit::Milliseconds, time_left_ms);
    }
    let Some(response) = response else {
        if let Err(err) = processed {
            metrics.property("ErrorType", "InvalidEvent").property("Error", err.to_string());
        }
        return metrics;
    };
    let thumbnails_written: usize =
        response.results.iter().filter(|r| r.outcome == Outcome::Written).map(|r| r.keys.len()).sum();
    metrics
        .count("BatchSize", response.results.len())
        .count("ImagesProcessed", outcomes(Outcome::Written) + outcomes(Outcome::UpToDate))
        .count("ThumbnailsWritten", thumbnails_written)
        .count("AlreadyUpToDate", outcomes(Outcome::UpToDate))
        .count("SourcesDeleted", outcomes(Outcome::Deleted))
        .count("Skipped", outcomes(Outcome::Skipped))
        .count("Rejected", outcomes(Outcome::Rejected))
        .count("TransientFailures", transient)
        .put("InputMegabytes", Unit::Megabytes, measured.input_bytes as f64 / (1024.0 * 1024.0))
        .put("ImageTime", Unit::Milliseconds, measured.image_ms as f64);
    for class in RejectionClass::ALL {
        metrics.count(class.metric_name(), measured.rejections.get(&class).copied().unwrap_or(0));
    }
    metrics
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};
    use shared::metrics::{MetricsConfig, check_document};

    use super::*;
    use crate::core::ObjectResult;

    fn object(outcome: Outcome, keys: usize) -> ObjectResult {
        ObjectResult {
            bucket: "b".into(),
            key: "k".into(),
            outcome,
            detail: String::new(),
            keys: (0..keys).map(|i| format!("thumbs/{i}")).collect(),
        }
    }

    fn checked(processed: &Result<(Trigger, Response), ThumbnailerError>, measured: &Measured) -> Value {
        let document = of_batch(processed, measured, Some(900.0)).document(&MetricsConfig::local("thumbnailer"), 0);
        check_document(&document).unwrap_or_else(|err| panic!("{err}: {document}"));
        document
    }

    #[test]
    fn a_batch_counts_its_outcomes_and_what_it_read() {
        let results = vec![
            object(Outcome::Written, 3),
            object(Outcome::Written, 3),
            object(Outcome::UpToDate, 3),
            object(Outcome::Rejected, 1),
            object(Outcome::Skipped, 0),
        ];
        let response = Response { batch_item_failures: Vec::new(), results };
        let measured = Measured {
            input_bytes: 3 * 1024 * 1024,
            image_ms: 250,
            rejections: BTreeMap::from([(RejectionClass::Corrupt, 1)]),
        };
        let document = checked(&Ok((Trigger::Sqs, response)), &measured);
        for (name, value) in [
            ("Succeeded", 1.0),
            ("BatchSize", 5.0),
            ("ImagesProcessed", 3.0),
            ("ThumbnailsWritten", 6.0),
            ("Rejected", 1.0),
            ("RejectedCorrupt", 1.0),
            ("RejectedNotAnImage", 0.0),
            ("TransientFailures", 0.0),
            ("InputMegabytes", 3.0),
            ("ImageTime", 250.0),
            ("TimeLeft", 900.0),
        ] {
            assert_eq!(document[name], json!(value), "{name}");
        }
    }

    #[test]
    fn a_batch_with_objects_to_retry_or_an_unreadable_event_fails_its_heartbeat() {
        let response = Response { batch_item_failures: Vec::new(), results: vec![object(Outcome::Retry, 0)] };
        let document = checked(&Ok((Trigger::Sqs, response)), &Measured::default());
        assert_eq!(document["Succeeded"], json!(0.0));
        assert_eq!(document["TransientFailures"], json!(1.0));
        let invalid = Err(ThumbnailerError::InvalidEvent("not an S3 event".into()));
        let document = checked(&invalid, &Measured::default());
        assert_eq!(document["Succeeded"], json!(0.0));
        assert_eq!(document["ErrorType"], json!("InvalidEvent"));
    }
}
