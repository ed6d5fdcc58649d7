//! S3 -> SQS -> thumbnailer, played by watching the bucket: each new or changed object under
//! the prefix is handed to the real thumbnailer handler as the S3 event its upload makes (with
//! the ETag, as S3 sends it), each object gone as its deletion. For the browser test and the
//! demo, where uploads come from a browser and nothing else would run the thumbnailer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tracing::Instrument as _;

use lambda_runtime::{Context, LambdaEvent};

use crate::photos::s3_event;

/// Runs on a thread of its own with its own runtime: the thumbnailer's handler future is not
/// `Send` for every lifetime `tokio::spawn` asks of it.
#[derive(Debug)]
pub struct Pipeline {
    stop: Arc<AtomicBool>,
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Pipeline {
    pub fn start(s3: aws_sdk_s3::Client, bucket: String, prefix: String, thumbnailer: Arc<thumbnailer::Deps>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime for the pipeline");
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let mut seen: BTreeMap<String, String> = BTreeMap::new();
                while !stopped.load(Ordering::Relaxed) {
                    match s3.list_objects_v2().bucket(&bucket).prefix(&prefix).send().await {
                        Ok(listed) => {
                            let now: BTreeMap<String, String> = listed
                                .contents()
                                .iter()
                                .filter_map(|object| {
                                    Some((object.key()?.to_owned(), object.e_tag()?.trim_matches('"').to_owned()))
                                })
                                .collect();
                            let created: Vec<(String, String)> = now
                                .iter()
                                .filter(|(key, etag)| seen.get(*key) != Some(*etag))
                                .map(|(k, e)| (k.clone(), e.clone()))
                                .collect();
                            let removed: Vec<String> =
                                seen.keys().filter(|key| !now.contains_key(*key)).cloned().collect();
                            for (key, etag) in created {
                                let event = s3_event(&bucket, &key, "ObjectCreated:Post", Some(&etag), None);
                                run(&thumbnailer, event, &key).await;
                            }
                            for key in removed {
                                run(&thumbnailer, s3_event(&bucket, &key, "ObjectRemoved:Delete", None, None), &key)
                                    .await;
                            }
                            seen = now;
                        }
                        Err(err) => eprintln!("pipeline: listing s3://{bucket}/{prefix}: {err}"),
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            })
        });
        Self { stop }
    }
}

async fn run(thumbnailer: &thumbnailer::Deps, event: serde_json::Value, key: &str) {
    let invocation = crate::xray_daemon::lambda_invocation("pipeline");
    let handled = thumbnailer::handle(thumbnailer, LambdaEvent::new(event, Context::default())).instrument(invocation);
    if let Err(err) = handled.await {
        eprintln!("pipeline: the thumbnailer failed on {key}: {err}");
    }
}
