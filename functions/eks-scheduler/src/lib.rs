//! EKS scheduler: scales the managed nodegroups and self-managed node groups of tagged EKS clusters to zero out of
//! hours and restores their exact sizes, in the order dependencies between clusters need.
//!
//! `core` is pure, `aws` is the thin SDK layer, `handler` ties them together.

pub mod aws;
pub mod config;
pub mod core;
pub mod coverage;
pub mod error;
pub mod handler;
pub mod metrics;
pub mod sites;

pub use config::Config;
pub use error::EksSchedulerError;
pub use handler::{Deps, Outcome, handle, run};
