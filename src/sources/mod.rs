//! Front doors: where specs come from and where status goes. `folder` is the GitOps front door;
//! the Kubernetes front door calls the same `reconcile::reconcile`. `leader` gates writes.

pub mod folder;
pub mod leader;
