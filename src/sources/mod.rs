//! Front doors: where specs come from and where status goes. `folder` is the GitOps front door;
//! `kube` the Kubernetes one; both call the same `reconcile::reconcile`. `leader` gates writes;
//! `shards` spreads them over replicas (`assign`: which shard a plane is in).

pub mod assign;
pub mod credentials;
pub mod folder;
mod folder_files;
pub mod kube;
pub mod kube_events;
pub mod kube_exports;
pub mod kube_intent;
pub mod kube_sweep;
pub mod leader;
pub mod shards;
