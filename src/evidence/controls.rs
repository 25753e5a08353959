//! The AI-SEC-01 sub-controls on encryption at rest, key age and rotation, TLS and network access
//! (AI-SEC-01.1 to .11; docs/evidence.md). Pure: each judges what `collect` read.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::{controls_net, controls_ops, or_dash, Control, Outcome, ReadRecord};
use crate::api::{EffectiveSpec, EngramDataPlaneStatus, Environment};
use crate::plan::{
    key_version_of, newest, owner, unix_rfc3339, Observed, ObservedAccount,
    ObservedAccountEncryption, ObservedEncryption, ObservedServer,
};

/// Everything a control is judged on.
pub struct Inputs<'a> {
    pub eff: &'a EffectiveSpec,
    pub observed: &'a Observed,
    /// The plane's status when given (the status file, or the custom resource's).
    pub status: Option<&'a EngramDataPlaneStatus>,
    /// Every read made for the plane, to cite.
    pub reads: &'a [ReadRecord],
    pub now: OffsetDateTime,
}

impl Inputs<'_> {
    /// uat and prod require every control.
    pub(super) fn required(&self) -> bool {
        matches!(self.eff.environment, Environment::Uat | Environment::Prod)
    }

    /// The latest read of each of `wants`: an ARM path (`/subscriptions/…`, matched without host
    /// and query) or a full URL without its query (Key Vault).
    pub(super) fn cite(&self, wants: &[String]) -> Vec<ReadRecord> {
        wants
            .iter()
            .filter_map(|want| {
                self.reads
                    .iter()
                    .rev()
                    .find(|r| read_is(&r.url, want))
                    .cloned()
            })
            .collect()
    }

    pub(super) fn server_path(&self) -> String {
        owner::server_id(self.eff)
    }

    pub(super) fn account_path(&self) -> String {
        owner::account_id(self.eff)
    }
}

fn read_is(url: &str, want: &str) -> bool {
    let bare = url.split('?').next().unwrap_or_default();
    let compared = if want.starts_with('/') {
        bare.find("://")
            .and_then(|i| bare[i + 3..].find('/').map(|j| &bare[i + 3 + j..]))
            .unwrap_or(bare)
    } else {
        bare
    };
    compared.eq_ignore_ascii_case(want)
}

/// A control row.
pub(super) fn row(
    id: &str,
    title: &str,
    outcome: Outcome,
    detail: impl Into<String>,
    observed: Vec<(&str, String)>,
    sources: Vec<ReadRecord>,
) -> Control {
    Control {
        id: id.into(),
        title: title.into(),
        outcome,
        detail: detail.into(),
        observed: observed
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<BTreeMap<_, _>>(),
        observed_at: sources.iter().map(|s| s.at.clone()).max(),
        sources,
    }
}

/// The row of a control that does not apply to a dev or test plane.
pub(super) fn not_required(i: &Inputs<'_>, id: &str, title: &str, what: &str) -> Control {
    row(
        id,
        title,
        Outcome::NotApplicable,
        format!(
            "the {} profile does not require {what} and the spec declares none",
            i.eff.environment
        ),
        vec![],
        vec![],
    )
}

/// The row of a control whose resource does not exist.
pub(super) fn missing(id: &str, title: &str, what: &str, sources: Vec<ReadRecord>) -> Control {
    row(
        id,
        title,
        Outcome::Fail,
        format!("{what} does not exist"),
        vec![],
        sources,
    )
}

pub(super) fn pass_if(ok: bool) -> Outcome {
    if ok {
        Outcome::Pass
    } else {
        Outcome::Fail
    }
}

/// Every control of the catalogue, in order.
pub fn evaluate(i: &Inputs<'_>) -> Vec<Control> {
    let mut v = vec![
        pg_cmk(i),
        storage_cmk(i),
        same_key(i),
        key_age(i),
        rotation(i),
    ];
    v.extend(controls_net::evaluate(i));
    v.extend(controls_ops::evaluate(i));
    v
}

/// The days a key version may be old: `encryption.rotation.maxKeyAgeDays`, whose profile default
/// is 90 in uat and prod (the seed's quarterly rotation) and none in dev and test.
pub fn max_key_age_days(eff: &EffectiveSpec) -> Option<i64> {
    eff.rotation().max_key_age_days.map(i64::from)
}

fn cmk_declared(i: &Inputs<'_>) -> bool {
    i.required() || i.eff.encryption.is_some()
}

/// `…/keys/{name}` of a key URI, lower case, without its version.
fn key_base(uri: &str) -> Option<String> {
    let lower = uri.trim_end_matches('/').to_ascii_lowercase();
    let idx = lower.find("/keys/")?;
    let name = lower[idx + 6..].split('/').next()?;
    let vault = lower[..idx].replace(":443", "");
    Some(format!("{vault}/keys/{name}"))
}

fn declared_base(eff: &EffectiveSpec) -> Option<String> {
    let e = eff.encryption.as_ref()?;
    key_base(&format!(
        "{}/keys/{}",
        e.key_vault_uri.trim_end_matches('/'),
        e.key_name
    ))
}

pub(super) fn server<'a>(i: &Inputs<'a>) -> Option<&'a ObservedServer> {
    i.observed.postgres.server.as_ref()
}

pub(super) fn account<'a>(i: &Inputs<'a>) -> Option<&'a ObservedAccount> {
    i.observed.storage.account.as_ref()
}

fn pg_key_uri<'a>(i: &Inputs<'a>) -> Option<&'a str> {
    match &server(i)?.encryption {
        ObservedEncryption::AzureKeyVault { key_uri, .. } => Some(key_uri),
        ObservedEncryption::SystemManaged => None,
    }
}

fn storage_key<'a>(i: &Inputs<'a>) -> Option<&'a crate::plan::ObservedAccountKey> {
    match &account(i)?.encryption {
        ObservedAccountEncryption::KeyVault(k) => Some(k),
        ObservedAccountEncryption::MicrosoftManaged => None,
    }
}

fn pg_cmk(i: &Inputs<'_>) -> Control {
    const ID: &str = "AI-SEC-01.1";
    const T: &str = "CMK at rest: PostgreSQL";
    if !cmk_declared(i) {
        return not_required(i, ID, T, "a customer-managed key");
    }
    let src = i.cite(&[i.server_path()]);
    let Some(s) = server(i) else {
        return missing(ID, T, "the server", src);
    };
    let status = or_dash(s.primary_key_status.as_deref());
    let Some(uri) = pg_key_uri(i) else {
        let obs = vec![("dataEncryption.type", "SystemManaged".into())];
        return row(ID, T, Outcome::Fail, "service-managed keys", obs, src);
    };
    let declared = declared_base(i.eff);
    let same = declared.is_none() || key_base(uri) == declared;
    let valid = status.eq_ignore_ascii_case("Valid");
    let detail = match (same, valid) {
        (true, true) => "the declared key, and the server reports it Valid".to_owned(),
        (false, _) => format!(
            "primaryKeyURI is not the declared key {}",
            or_dash(declared.as_deref())
        ),
        (true, false) => format!("primaryEncryptionKeyStatus is {status}, not Valid"),
    };
    let obs = vec![
        ("dataEncryption.type", "AzureKeyVault".into()),
        ("primaryKeyURI", uri.to_owned()),
        ("primaryEncryptionKeyStatus", status),
    ];
    row(ID, T, pass_if(same && valid), detail, obs, src)
}

fn storage_cmk(i: &Inputs<'_>) -> Control {
    const ID: &str = "AI-SEC-01.2";
    const T: &str = "CMK at rest: Blob Storage";
    if !cmk_declared(i) {
        return not_required(i, ID, T, "a customer-managed key");
    }
    let src = i.cite(&[i.account_path()]);
    if account(i).is_none() {
        return missing(ID, T, "the storage account", src);
    }
    let Some(k) = storage_key(i) else {
        let obs = vec![("encryption.keySource", "Microsoft.Storage".into())];
        return row(ID, T, Outcome::Fail, "platform-managed keys", obs, src);
    };
    let uri = format!(
        "{}/keys/{}",
        k.key_vault_uri.trim_end_matches('/'),
        k.key_name
    );
    let declared = declared_base(i.eff);
    let same = declared.is_none() || key_base(&uri) == declared;
    let in_use = k.version_in_use();
    let detail = match (same, &in_use) {
        (true, Some(_)) => "the declared key, and the account reports the version in use",
        (false, _) => "keyvaultproperties do not name the declared key",
        (true, None) => "the account reports no key version in use",
    };
    let obs = vec![
        ("encryption.keySource", "Microsoft.Keyvault".into()),
        ("keyvaulturi", k.key_vault_uri.clone()),
        ("keyname", k.key_name.clone()),
        ("keyversion", or_dash(Some(&k.key_version))),
        (
            "currentVersionedKeyIdentifier",
            or_dash(k.current_versioned_key_id.as_deref()),
        ),
    ];
    row(ID, T, pass_if(same && in_use.is_some()), detail, obs, src)
}

fn same_key(i: &Inputs<'_>) -> Control {
    const ID: &str = "AI-SEC-01.3";
    const T: &str = "One key for both services";
    if !cmk_declared(i) {
        return not_required(i, ID, T, "a customer-managed key");
    }
    let src = i.cite(&[i.server_path(), i.account_path()]);
    let pg = pg_key_uri(i);
    let st = storage_key(i);
    let st_base = st.and_then(|k| {
        key_base(&format!(
            "{}/keys/{}",
            k.key_vault_uri.trim_end_matches('/'),
            k.key_name
        ))
    });
    let pg_base = pg.and_then(key_base);
    let obs = vec![
        ("postgres.key", or_dash(pg_base.as_deref())),
        (
            "postgres.version",
            or_dash(pg.and_then(key_version_of).as_deref()),
        ),
        ("storage.key", or_dash(st_base.as_deref())),
        (
            "storage.version",
            or_dash(st.and_then(|k| k.version_in_use()).as_deref()),
        ),
    ];
    let ok = pg_base.is_some() && pg_base == st_base;
    let detail = if ok {
        "PostgreSQL and Storage use the same vault and key"
    } else {
        "the services do not use the same customer-managed key"
    };
    row(ID, T, pass_if(ok), detail, obs, src)
}

fn versions_url(i: &Inputs<'_>) -> Vec<String> {
    i.eff
        .encryption
        .as_ref()
        .map(|e| {
            let u = crate::azure::keyvault_versions_url(&e.key_vault_uri, &e.key_name);
            vec![u.split('?').next().unwrap_or_default().to_owned()]
        })
        .unwrap_or_default()
}

fn key_age(i: &Inputs<'_>) -> Control {
    const ID: &str = "AI-SEC-01.4";
    const T: &str = "Key age";
    let Some(max) = max_key_age_days(i.eff) else {
        return not_required(i, ID, T, "a maximum key age");
    };
    let src = i.cite(&versions_url(i));
    let versions = &i.observed.postgres.key_versions;
    let in_use = pg_key_uri(i).and_then(key_version_of);
    let v = match &in_use {
        Some(id) => versions.iter().find(|v| &v.version == id),
        None => newest(versions),
    };
    let Some(v) = v else {
        let why = format!(
            "the version in use ({}) is not among the {} version(s) read from Key Vault",
            or_dash(in_use.as_deref()),
            versions.len()
        );
        return row(ID, T, Outcome::Unknown, why, vec![], src);
    };
    let age = (i.now.unix_timestamp() - v.created).max(0) / 86_400;
    let obs = vec![
        ("version", v.version.clone()),
        ("created", unix_rfc3339(v.created)),
        ("ageDays", age.to_string()),
        ("maxKeyAgeDays", max.to_string()),
    ];
    let detail = format!("the version in use is {age} day(s) old (at most {max})");
    row(ID, T, pass_if(age <= max), detail, obs, src)
}

fn rotation(i: &Inputs<'_>) -> Control {
    const ID: &str = "AI-SEC-01.5";
    const T: &str = "Last rotation confirmed on all consumers";
    if !cmk_declared(i) {
        return not_required(i, ID, T, "a customer-managed key");
    }
    let src = i.cite(&[i.server_path(), i.account_path()]);
    let Some(status) = i.status else {
        let why = "the plane's status was not given (--status-dir, or the custom resource's)";
        return row(ID, T, Outcome::Unknown, why, vec![], src);
    };
    let Some(r) = &status.key_rotation else {
        let why = "no key rotation is recorded in status";
        return row(ID, T, Outcome::NotApplicable, why, vec![], src);
    };
    let live = |consumer: &str| -> Option<String> {
        match consumer {
            "postgres" => pg_key_uri(i).and_then(key_version_of),
            "storage" => storage_key(i).and_then(|k| k.version_in_use()),
            "postgres-geo-backup" => match &server(i)?.encryption {
                ObservedEncryption::AzureKeyVault { geo_key_uri, .. } => {
                    geo_key_uri.as_deref().and_then(key_version_of)
                }
                ObservedEncryption::SystemManaged => None,
            },
            _ => None,
        }
    };
    let mut problems = Vec::new();
    let mut obs = vec![
        ("phase", r.phase.clone()),
        ("fromVersion", r.from_version.clone()),
        ("toVersion", r.to_version.clone()),
        ("confirmedAt", or_dash(r.confirmed_at.as_deref())),
        (
            "safeToDisablePreviousAfter",
            or_dash(r.safe_to_disable_previous_after.as_deref()),
        ),
    ];
    if !matches!(r.phase.as_str(), "Complete" | "SafeToDisablePrevious") {
        problems.push(format!("phase {}", r.phase));
    }
    for c in &r.consumers {
        obs.push((consumer_key(&c.consumer), c.state.clone()));
        if c.state != "Confirmed" {
            let why = c
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            problems.push(format!("{} {}{why}", c.consumer, c.state));
        } else if let Some(v) = live(&c.consumer).filter(|v| v != &c.to_version) {
            problems.push(format!(
                "{} is confirmed on {} in status but uses {v} now",
                c.consumer, c.to_version
            ));
        }
    }
    let detail = if problems.is_empty() {
        format!(
            "{} → {} confirmed on every consumer",
            r.from_version, r.to_version
        )
    } else {
        problems.join("; ")
    };
    row(ID, T, pass_if(problems.is_empty()), detail, obs, src)
}

fn consumer_key(consumer: &str) -> &'static str {
    match consumer {
        "postgres" => "consumer.postgres",
        "storage" => "consumer.storage",
        "postgres-geo-backup" => "consumer.postgres-geo-backup",
        _ => "consumer.other",
    }
}
