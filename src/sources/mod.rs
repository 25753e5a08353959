//! Front doors: where specs come from and where status goes (folder, Kubernetes), and leader election.

pub mod leader;
