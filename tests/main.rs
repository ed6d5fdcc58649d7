//! The workspace's one integration-test binary: a module per function, plus the
//! checks that hold for all of them. Every AWS call goes to a real moto server.

mod cost_report;
mod cost_report_lambda;
mod eks_coverage;
mod eks_karpenter;
mod eks_kube_token;
mod eks_nodepools;
mod eks_savings;
mod eks_scheduler;
mod eks_scheduler_lambda;
mod eks_self_managed;
mod eks_snooze;
mod events;
mod fault_proxy;
mod iam_export;
mod iam_export_lambda;
mod iam_identity_center;
mod organization;
mod photos_api;
mod thumbnailer;
mod thumbnailer_lambda;
mod thumbnailer_photos;
mod traces;
