//! The photos app on a loopback port: the photos API's real handler served over HTTP (as API
//! Gateway calls it, the function verifying tokens itself) and the real thumbnailer run on each
//! upload the bucket receives. `make demo` starts it against the emulator for a person to open.
//!
//! Settings come from the environment: the SDK's (`AWS_ENDPOINT_URL`, credentials, region), the
//! photos API's and the thumbnailer's (`UPLOADS_BUCKET`, `PHOTOS_TABLE`, `JWT_ISSUER`, ...), and
//! `PORT` (default 0: a free one), `AWS_XRAY_DAEMON_ADDRESS` (each request and each upload's
//! work traced, as Lambda's active tracing would, to that daemon). Prints the page's URL as its first line, then serves until its
//! standard input closes.

#![allow(clippy::print_stdout)]

use std::io::Write as _;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use shared::config::Env;
use shared::xray::XrayLayer;
use support::local_api::LocalApi;
use support::pipeline::Pipeline;
use tokio::io::AsyncReadExt as _;

#[tokio::main]
async fn main() -> Result<()> {
    // The functions' subscriber, its lines on standard error; with AWS_XRAY_DAEMON_ADDRESS each
    // request and each upload's thumbnails go to that daemon as X-Ray subsegments.
    tracing::subscriber::set_global_default(shared::logging::subscriber(std::io::stderr, XrayLayer::from_env()))?;
    let env = Env::from_process();
    let aws = shared::aws::Aws::from_env().await;
    let api = photos_api::Config::from_env(&env)?;
    let (bucket, prefix) = (api.uploads_bucket.clone(), api.uploads_prefix.clone());
    let api = photos_api::Deps::new(api, &aws).await?;
    let thumbnailer = thumbnailer::Deps::new(thumbnailer::Config::from_env(&env)?, &aws);
    let port = env.optional("PORT").unwrap_or_else(|| "0".to_owned());
    let server = LocalApi::start_on(Arc::new(api), &format!("127.0.0.1:{port}")).await.context("binding the port")?;
    let _pipeline = Pipeline::start(aws.s3(), bucket, prefix, Arc::new(thumbnailer));
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}/", server.url)?;
    stdout.flush()?;
    let mut rest = Vec::new();
    tokio::io::stdin().read_to_end(&mut rest).await?;
    Ok(())
}
