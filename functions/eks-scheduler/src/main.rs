use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let config = eks_scheduler::Config::from_env(&shared::config::Env::from_process())
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let deps = eks_scheduler::Deps::new(config, &shared::aws::Aws::from_env().await);
    run(service_fn(|event| eks_scheduler::handle(&deps, event))).await
}
