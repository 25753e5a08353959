//! Front doors: where specs come from and where status goes. `folder` is the GitOps front door;
//! the Kubernetes front door (a later issue) calls the same `reconcile::reconcile`.

pub mod folder;
