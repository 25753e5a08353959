//! Planner for the server's Microsoft Entra administrator (pure): the declared principal is PUT
//! when the server has no administrator with its object id, or when its name or type differ.
//! Administrators with other object ids are someone else's and are never read or removed.
//!
//! Azure accepts an administrator only on a server with Microsoft Entra authentication on
//! (`authConfig.activeDirectoryAuth`). Servers this operator creates have it; on one that does
//! not, the PATCH that turns it on comes first (password authentication is sent as observed, so
//! it stays as it is), and the administrator follows in a later pass: both write to the server,
//! and one write per server runs at a time.

use super::observed::{AuthConfig, ObservedPostgres};
use super::{Action, FieldChange, Op, PgServerPatch, PgTarget, Plan, Verb};
use crate::api::EffectiveSpec;

fn enabled(b: bool) -> &'static str {
    if b {
        "Enabled"
    } else {
        "Disabled"
    }
}

/// Plan the administrator of server `tgt` (labelled `resource`).
pub fn plan(eff: &EffectiveSpec, obs: &ObservedPostgres, resource: &str, tgt: &PgTarget) -> Plan {
    let mut plan = Plan::default();
    let (Some(want), Some(server)) = (&eff.postgres.entra_admin, &obs.server) else {
        return plan;
    };
    if let Some(auth) = server.auth.filter(|a| !a.active_directory) {
        plan.actions.push(Action {
            resource: resource.into(),
            verb: Verb::Update,
            changes: vec![FieldChange::new(
                "authConfig.activeDirectoryAuth",
                enabled(auth.active_directory),
                enabled(true),
            )],
            op: Op::PgPatch(
                tgt.clone(),
                PgServerPatch {
                    auth_config: Some(AuthConfig {
                        active_directory: true,
                        password: auth.password,
                    }),
                    ..Default::default()
                },
            ),
        });
    }
    // Not read (no server yet, or a caller that does not read it): nothing to compare.
    let Some(observed) = &obs.entra_admin else {
        return plan;
    };
    let field = format!("entraAdmin.{}", want.object_id);
    let desired = format!("{} ({})", want.principal_name, want.principal_type.as_str());
    let (verb, change) = match observed {
        None => (
            Verb::Create,
            FieldChange {
                field,
                observed: None,
                desired,
            },
        ),
        Some(o)
            if o.principal_name == want.principal_name
                && o.principal_type
                    .eq_ignore_ascii_case(want.principal_type.as_str()) =>
        {
            return plan
        }
        Some(o) => (
            Verb::Configure,
            FieldChange::new(
                field,
                format!("{} ({})", o.principal_name, o.principal_type),
                desired,
            ),
        ),
    };
    plan.actions.push(Action {
        resource: resource.into(),
        verb,
        changes: vec![change],
        op: Op::EntraAdminPut(tgt.clone(), want.clone()),
    });
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::database::{EntraAdmin, PrincipalType};
    use crate::plan::{ObservedAdmin, ObservedServer};

    const OID: &str = "11111111-2222-3333-4444-555555555555";

    fn eff() -> EffectiveSpec {
        let mut e = crate::api::load(include_str!("../../examples/dev.yaml"))
            .expect("dev")
            .1;
        e.postgres.entra_admin = Some(EntraAdmin {
            object_id: OID.into(),
            principal_name: "engram-operator".into(),
            principal_type: PrincipalType::ServicePrincipal,
            tenant_id: None,
        });
        e
    }

    fn obs(ad: bool, admin: Option<Option<ObservedAdmin>>) -> ObservedPostgres {
        ObservedPostgres {
            server: Some(ObservedServer {
                auth: Some(AuthConfig {
                    active_directory: ad,
                    password: true,
                }),
                ..Default::default()
            }),
            entra_admin: admin,
            ..Default::default()
        }
    }

    fn run(o: &ObservedPostgres) -> Plan {
        let e = eff();
        plan(&e, o, "postgres/x", &crate::plan::postgres::target(&e))
    }

    fn admin(name: &str, kind: &str) -> Option<Option<ObservedAdmin>> {
        Some(Some(ObservedAdmin {
            principal_name: name.into(),
            principal_type: kind.into(),
            tenant_id: None,
        }))
    }

    #[test]
    fn a_missing_admin_is_created_and_a_matching_one_left() {
        let p = run(&obs(true, Some(None)));
        assert_eq!(p.actions.len(), 1);
        assert_eq!(p.actions[0].verb, Verb::Create);
        assert!(matches!(&p.actions[0].op, Op::EntraAdminPut(_, a) if a.object_id == OID));
        assert!(
            run(&obs(true, admin("engram-operator", "ServicePrincipal")))
                .actions
                .is_empty()
        );
        assert!(run(&obs(true, None)).actions.is_empty(), "not read");
    }

    #[test]
    fn a_renamed_admin_is_put_again() {
        let p = run(&obs(true, admin("someone-else", "ServicePrincipal")));
        assert_eq!(p.actions.len(), 1);
        assert_eq!(p.actions[0].verb, Verb::Configure);
        assert_eq!(
            p.actions[0].changes[0].observed.as_deref(),
            Some("someone-else (ServicePrincipal)")
        );
    }

    #[test]
    fn entra_sign_in_is_turned_on_before_the_admin_keeping_passwords_as_they_are() {
        let p = run(&obs(false, Some(None)));
        assert_eq!(p.actions.len(), 2);
        match &p.actions[0].op {
            Op::PgPatch(_, patch) => assert_eq!(
                patch.auth_config,
                Some(AuthConfig {
                    active_directory: true,
                    password: true
                })
            ),
            other => panic!("expected the authConfig PATCH first, got {other:?}"),
        }
        assert!(matches!(p.actions[1].op, Op::EntraAdminPut(..)));
    }
}
