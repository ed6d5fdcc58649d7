//! EKS scheduler: scales the managed nodegroups of tagged EKS clusters to zero out of
//! hours and restores their exact sizes, in the order dependencies between clusters need.

pub mod core;
