//! Environment profiles: what each environment fills in, that explicit values win, and that the
//! rendered effective spec resolves to itself.

use engram_operator::api::{self, spec::*, EffectiveSpec, Environment};
use serde_json::json;

fn minimal(env: &str) -> EngramDataPlaneSpec {
    let mut spec = json!({
        "environment": env,
        "azure": {"subscriptionId": "00000000-0000-0000-0000-000000000001", "resourceGroup": "rg", "location": "eastus2"},
        "postgres": {"serverName": "p-pg"},
        "storage": {"accountName": "pstorage"}
    });
    if env == "uat" || env == "prod" {
        spec["encryption"] = json!({
            "keyVaultUri": "https://kv-p.vault.azure.net", "keyName": "k",
            "identityId": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
        });
    }
    if env == "uat" || env == "prod" {
        // Private endpoints for both services: uat and prod allow no public network access.
        spec["postgres"]["network"] = json!({"privateEndpoint": pe(PG_ZONE)});
        spec["storage"]["network"] = json!({"privateEndpoint": pe(BLOB_ZONE)});
    }
    if env == "prod" {
        // Geo-redundant backup (prod's default) with a CMK needs the paired region's key.
        spec["encryption"]["geoBackup"] = json!({
            "keyVaultUri": "https://kv-p-paired.vault.azure.net", "keyName": "k",
            "identityId": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-paired"
        });
    }
    serde_json::from_value(spec).unwrap()
}

const PG_ZONE: &str = "privatelink.postgres.database.azure.com";
const BLOB_ZONE: &str = "privatelink.blob.core.windows.net";

fn pe(zone: &str) -> serde_json::Value {
    let net = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-net/providers/Microsoft.Network";
    json!({"subnetId": format!("{net}/virtualNetworks/vnet/subnets/endpoints"), "privateDnsZoneId": format!("{net}/privateDnsZones/{zone}")})
}

fn resolve(spec: &EngramDataPlaneSpec) -> EffectiveSpec {
    api::resolve(spec).unwrap_or_else(|e| panic!("{e:?}"))
}

#[test]
fn each_profile_fills_the_seed_table() {
    // (env, tier, sku, storage GiB, HA, retention, geo backup, replication, public access, window)
    let table = [
        (
            "dev",
            SkuTier::Burstable,
            "Standard_B1ms",
            32,
            HaMode::Disabled,
            7,
            false,
            Replication::Standard_LRS,
            PublicNetworkAccess::Enabled,
            false,
        ),
        (
            "test",
            SkuTier::Burstable,
            "Standard_B2s",
            32,
            HaMode::Disabled,
            7,
            false,
            Replication::Standard_LRS,
            PublicNetworkAccess::Enabled,
            false,
        ),
        (
            "uat",
            SkuTier::GeneralPurpose,
            "Standard_D2s_v3",
            64,
            HaMode::ZoneRedundant,
            14,
            false,
            Replication::Standard_ZRS,
            PublicNetworkAccess::Disabled,
            true,
        ),
        (
            "prod",
            SkuTier::GeneralPurpose,
            "Standard_D4s_v3",
            128,
            HaMode::ZoneRedundant,
            35,
            true,
            Replication::Standard_GZRS,
            PublicNetworkAccess::Disabled,
            true,
        ),
    ];
    for (env, tier, sku, gib, ha, days, geo, repl, public, window) in table {
        let eff = resolve(&minimal(env));
        let pg = &eff.postgres;
        assert_eq!(eff.environment.as_str(), env);
        assert_eq!((pg.sku.tier, pg.sku.name.as_str()), (tier, sku), "{env}");
        assert_eq!(pg.storage_gib, gib, "{env}");
        assert!(pg.auto_grow, "{env}: auto-grow on by default");
        assert_eq!(pg.high_availability.mode, ha, "{env}");
        assert_eq!(
            (pg.backup_retention_days, pg.geo_redundant_backup),
            (days, geo),
            "{env}"
        );
        assert_eq!(pg.maintenance_window.is_some(), window, "{env}");
        assert_eq!(pg.state, ServerState::Running, "{env}");
        assert_eq!(
            pg.extensions,
            ["vector"],
            "{env}: pgvector allow-listed by default"
        );
        assert_eq!(pg.version, "16");
        assert_eq!(pg.restart_policy, RestartPolicy::MaintenanceWindow);
        assert_eq!(eff.storage.replication, repl, "{env}");
        assert_eq!(eff.storage.public_network_access, public, "{env}");
        assert_eq!(eff.storage.minimum_tls_version, "TLS1_2");
        assert_eq!(eff.storage.containers.len(), 1);
        assert_eq!(eff.storage.containers[0].name, "record-plane");
        let rule = &eff.storage.lifecycle[0];
        assert_eq!(
            (
                rule.cool_after_days,
                rule.archive_after_days,
                rule.delete_after_days
            ),
            (Some(30), Some(90), Some(2555))
        );
        assert_eq!(
            (
                eff.alerts.cpu_percent.warning,
                eff.alerts.cpu_percent.critical
            ),
            (60, 80)
        );
        assert_eq!(
            (
                eff.alerts.memory_percent.warning,
                eff.alerts.memory_percent.critical
            ),
            (70, 90)
        );
        assert_eq!(
            (
                eff.alerts.connections_percent.warning,
                eff.alerts.connections_percent.critical
            ),
            (70, 90)
        );
        assert_eq!(eff.alerts.storage_percent.critical, 90);
        assert_eq!(
            (eff.mode, eff.deletion, eff.resync_seconds),
            (Mode::Enforce, DeletionPolicy::Retain, 300)
        );
    }
    assert!(
        Environment::Dev.profile().stopped_allowed && Environment::Test.profile().stopped_allowed
    );
    assert!(
        !Environment::Uat.profile().stopped_allowed && !Environment::Prod.profile().stopped_allowed
    );
}

#[test]
fn explicit_values_win_over_the_profile() {
    let mut spec = minimal("prod");
    spec.postgres.sku = Some(SkuSetting::Explicit(Sku {
        tier: SkuTier::MemoryOptimized,
        name: "Standard_E8ds_v5".into(),
    }));
    spec.postgres.storage = Some(PgStorage {
        size_gib: Some(512),
        auto_grow: Some(false),
    });
    spec.postgres.backup = Some(Backup {
        retention_days: Some(21),
        geo_redundant: None,
    });
    spec.postgres.extensions = Some(vec![]);
    spec.storage.replication = Some(Replication::Standard_RAGZRS);
    spec.storage.lifecycle = Some(vec![]);
    spec.alerts = Some(AlertsSpec {
        cpu_percent: Some(Threshold {
            warning: 50,
            critical: 75,
        }),
        ..Default::default()
    });
    spec.policy = Some(Policy {
        mode: Some(Mode::Observe),
        deletion: None,
        resync_seconds: Some(60),
        ..Default::default()
    });
    let eff = resolve(&spec);
    assert_eq!(eff.postgres.sku.name, "Standard_E8ds_v5");
    assert_eq!(
        (eff.postgres.storage_gib, eff.postgres.auto_grow),
        (512, false)
    );
    // Declared retention wins; the undeclared geo-redundancy still comes from the prod profile.
    assert_eq!(
        (
            eff.postgres.backup_retention_days,
            eff.postgres.geo_redundant_backup
        ),
        (21, true)
    );
    assert!(
        eff.postgres.extensions.is_empty(),
        "an explicit empty list means none"
    );
    assert_eq!(eff.storage.replication, Replication::Standard_RAGZRS);
    assert!(eff.storage.lifecycle.is_empty());
    assert_eq!(
        (
            eff.alerts.cpu_percent.warning,
            eff.alerts.memory_percent.warning
        ),
        (50, 70)
    );
    assert_eq!((eff.mode, eff.resync_seconds), (Mode::Observe, 60));
}

#[test]
fn rendered_spec_resolves_to_the_same_effective_spec() {
    for env in ["dev", "test", "uat", "prod"] {
        let eff = resolve(&minimal(env));
        let again = resolve(&eff.to_spec());
        assert_eq!(again, eff, "{env}");
    }
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/prod.yaml"))
        .unwrap();
    let (res, eff) = api::load(&text).unwrap();
    let rendered = api::render_yaml(&res, &eff).unwrap();
    let (res2, eff2) = api::load(&rendered).unwrap();
    assert_eq!(eff2, eff);
    assert_eq!(res2.metadata.name, res.metadata.name);
    assert_eq!(
        api::render_yaml(&res2, &eff2).unwrap(),
        rendered,
        "render is idempotent"
    );
}

#[test]
fn pinned_key_version_is_none_for_latest() {
    let mut spec = minimal("prod");
    assert_eq!(resolve(&spec).pinned_key_version(), None);
    spec.encryption.as_mut().unwrap().key_version = "78deebed173b48e48f55abf87ed4cf71".into();
    assert_eq!(
        resolve(&spec).pinned_key_version(),
        Some("78deebed173b48e48f55abf87ed4cf71")
    );
}

#[test]
fn network_defaults_follow_the_profile_and_render_shows_them() {
    // dev/test: public access with the declared firewall rules (none declared: none).
    for env in ["dev", "test"] {
        let n = resolve(&minimal(env)).postgres.network;
        assert_eq!(n.public_access, PublicNetworkAccess::Enabled, "{env}");
        assert!(n.firewall_rules.is_empty() && n.private_endpoint.is_none());
        assert_eq!(n.mode(), "Public");
    }
    // uat/prod: public access Disabled on both, filled in by the profile and shown by render.
    for env in ["uat", "prod"] {
        let eff = resolve(&minimal(env));
        assert_eq!(
            eff.postgres.network.public_access,
            PublicNetworkAccess::Disabled
        );
        assert_eq!(
            eff.storage.public_network_access,
            PublicNetworkAccess::Disabled
        );
        assert_eq!(
            (eff.postgres.network.mode(), eff.storage.network.mode()),
            ("PrivateEndpoint", "PrivateEndpoint")
        );
        let rendered = eff.to_spec();
        let net = rendered
            .postgres
            .network
            .as_ref()
            .expect("rendered network");
        assert_eq!(net.public_access, Some(PublicNetworkAccess::Disabled));
        assert_eq!(resolve(&rendered), eff, "{env}: render resolves to itself");
        // Without the private endpoints the spec is refused, naming the fields.
        let mut bare = minimal(env);
        bare.postgres.network = None;
        bare.storage.network = None;
        let errors = api::resolve(&bare).expect_err("refused");
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.postgres.network.privateEndpoint",
                "spec.storage.network.privateEndpoint"
            ],
            "{env}"
        );
        // The explicit exception lifts the rule.
        bare.overrides = Some(Overrides {
            allow_public_network: true,
            ..Default::default()
        });
        assert!(api::resolve(&bare).is_ok(), "{env}: allowPublicNetwork");
    }
    // VNet integration defaults public access to Disabled, and is its own mode.
    let mut s = minimal("dev");
    s.postgres.network = Some(serde_json::from_value(json!({
        "delegatedSubnetResourceId": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/pg-delegated",
        "privateDnsZoneArmResourceId": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-net/providers/Microsoft.Network/privateDnsZones/acme.private.postgres.database.azure.com"
    })).unwrap());
    let n = resolve(&s).postgres.network;
    assert_eq!(
        (n.public_access, n.mode()),
        (PublicNetworkAccess::Disabled, "VnetIntegration")
    );
}
