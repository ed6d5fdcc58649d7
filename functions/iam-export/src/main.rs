use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let config = iam_export::Config::from_env(&shared::config::Env::from_process())
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let deps = iam_export::Deps::new(config, &shared::aws::Aws::from_env().await);
    run(service_fn(|event| iam_export::handle(&deps, event))).await
}
