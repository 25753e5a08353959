//! A plane's pass reads: every resource it declares, by GET (the containers by list only when
//! asked), each resource kind's reader in its own file.

use super::error::ArmError;
use super::Arm;
use crate::api::EffectiveSpec;
use crate::plan::Observed;

impl Arm {
    /// GET every resource of a data plane; every container of the account too with `all_containers`.
    pub(super) async fn observe_scoped(
        &self,
        eff: &EffectiveSpec,
        all_containers: bool,
    ) -> Result<Observed, ArmError> {
        use crate::plan::network::Service;
        let mut postgres = self.observe_postgres(eff).await?;
        let mut storage = self.observe_storage(eff, all_containers).await?;

        // Firewall rules: read on a server that has public access or should have rules (never on
        // a VNet-integrated one, which has none).
        let net = &eff.postgres.network;
        if let Some(s) = &postgres.server {
            let public = s
                .public_network_access
                .as_deref()
                .is_none_or(|a| a.eq_ignore_ascii_case("Enabled"));
            if s.delegated_subnet.is_none() && (public || !net.firewall_rules.is_empty()) {
                let t = crate::plan::postgres::target(eff);
                postgres.firewall_rules = Some(self.observe_firewall_rules(&t).await?);
            }
        }
        // The declared Entra administrator, by its object id (no other is ever read).
        if let (Some(a), Some(_)) = (&eff.postgres.entra_admin, &postgres.server) {
            let t = crate::plan::postgres::target(eff);
            postgres.entra_admin = Some(self.observe_entra_admin(&t, &a.object_id).await?);
        }
        // Private endpoints: only the declared ones, by their names.
        if net.private_endpoint.is_some() {
            postgres.private_endpoint = self.observe_endpoint(eff, Service::Postgres).await?;
        }
        if eff.storage.network.private_endpoint.is_some() {
            storage.private_endpoint = self.observe_endpoint(eff, Service::Blob).await?;
        }
        // Alerts are planned only on an existing server: no reads for them before.
        let alerts = if postgres.server.is_some() {
            self.observe_alerts(eff).await?
        } else {
            Default::default()
        };
        let mut observed = Observed {
            postgres,
            storage,
            alerts,
            ..Default::default()
        };
        observed.diagnostics = self.observe_diagnostics(eff, &observed).await?;
        if let Some(b) = &eff.budget {
            let t = crate::plan::budget::target(eff, b);
            observed.budget = self.observe_budget(&t).await?;
        }
        Ok(observed)
    }
}
