use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let config = photos_api::Config::from_env(&shared::config::Env::from_process())
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let deps = photos_api::Deps::new(config, &shared::aws::Aws::from_env().await).await?;
    run(service_fn(|event| photos_api::handle(&deps, event))).await
}
