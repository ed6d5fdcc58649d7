//! What the emulator cannot be made to answer: a `DeleteObjects` that succeeds as a
//! request but fails for some keys (S3 answers 200 and lists them, for example
//! `AccessDenied` for a key a bucket policy protects).

use aws_sdk_s3::Client;
use aws_sdk_s3::operation::delete_objects::DeleteObjectsOutput;
use aws_sdk_s3::types::Error as KeyError;
use aws_smithy_mocks::{mock, mock_client};

use super::*;

#[tokio::test]
async fn a_key_that_could_not_be_deleted_is_a_failure() {
    let partly = mock!(Client::delete_objects).then_output(|| {
        DeleteObjectsOutput::builder()
            .errors(
                KeyError::builder()
                    .key("thumbnails/a.jpg-256x256.jpg")
                    .code("AccessDenied")
                    .message("Access Denied")
                    .build(),
            )
            .build()
    });
    let s3 = mock_client!(aws_sdk_s3, [&partly]);
    let keys = ["thumbnails/a.jpg-256x256.jpg".to_owned(), "thumbnails/a.jpg-512x512.jpg".to_owned()];

    let failure = delete(&s3, "photos", &keys).await.expect_err("one key failed");

    assert_eq!(
        failure,
        S3Failure::Transient(
            "DeleteObjects in s3://photos could not delete thumbnails/a.jpg-256x256.jpg: AccessDenied Access Denied"
                .to_owned()
        )
    );
}

#[tokio::test]
async fn a_delete_with_no_failed_key_succeeds() {
    let clean = mock!(Client::delete_objects).then_output(|| DeleteObjectsOutput::builder().build());
    let s3 = mock_client!(aws_sdk_s3, [&clean]);
    assert_eq!(delete(&s3, "photos", &["thumbnails/b.jpg-256x256.jpg".to_owned()]).await, Ok(()));
    assert_eq!(clean.num_calls(), 1);
    // Nothing to delete: no request at all.
    assert_eq!(delete(&s3, "photos", &[]).await, Ok(()));
    assert_eq!(clean.num_calls(), 1);
}
