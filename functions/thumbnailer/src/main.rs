use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    imaging::allocator::reuse_buffers_across_images();
    let config = thumbnailer::Config::from_env(&shared::config::Env::from_process())
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let deps = thumbnailer::Deps::new(config, &shared::aws::Aws::from_env().await);
    run(service_fn(|event| thumbnailer::handle(&deps, event))).await
}
