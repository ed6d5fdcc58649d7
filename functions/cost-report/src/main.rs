use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let config = cost_report::Config::from_env(&shared::config::Env::from_process())
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let deps = cost_report::Deps::load(config, &shared::aws::Aws::from_env().await)
        .await
        .inspect_err(|err| tracing::error!(error = %err, "cold start failed"))?;
    run(service_fn(|event| cost_report::handle(&deps, event))).await
}
