//! The workspace's one integration-test binary: a module per function, plus the
//! checks that hold for all of them. Every AWS call goes to a real moto server.

mod eks_scheduler;
mod events;
mod iam_export;
mod support;
