//! The AI-SEC-01 sub-controls on data in transit and network access: TLS on both services, public
//! network access off, private endpoints Approved with their DNS zone groups (docs/evidence.md).
//! Pure, like `controls`.

use super::controls::{account, missing, not_required, pass_if, row, server, Inputs};
use super::{or_dash, Control, Outcome};
use crate::api::spec::PublicNetworkAccess;
use crate::plan::network::{self, Service};

/// The transit and access controls, in catalogue order.
pub fn evaluate(i: &Inputs<'_>) -> Vec<Control> {
    vec![
        pg_tls(i),
        storage_tls(i),
        pg_public(i),
        storage_public(i),
        endpoint(i, Service::Postgres),
        endpoint(i, Service::Blob),
    ]
}

fn pg_tls(i: &Inputs<'_>) -> Control {
    const ID: &str = "AI-SEC-01.6";
    const T: &str = "TLS in transit: PostgreSQL";
    const PARAM: &str = "ssl_min_protocol_version";
    if !i.required() && !i.eff.postgres.parameters.contains_key(PARAM) {
        return not_required(i, ID, T, PARAM);
    }
    let src = i.cite(&[format!("{}/configurations", i.server_path())]);
    if server(i).is_none() {
        return missing(ID, T, "the server", src);
    }
    let value = i
        .observed
        .postgres
        .configs
        .get(PARAM)
        .map(|c| c.value.clone());
    let ok = value
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("TLSv1.3"));
    let detail = if ok {
        "the server refuses connections below TLS 1.3 (the seed's TLS 1.3)".to_owned()
    } else {
        format!("{PARAM} is {}, not TLSv1.3", or_dash(value.as_deref()))
    };
    row(
        ID,
        T,
        pass_if(ok),
        detail,
        vec![(PARAM, or_dash(value.as_deref()))],
        src,
    )
}

fn storage_tls(i: &Inputs<'_>) -> Control {
    const ID: &str = "AI-SEC-01.7";
    const T: &str = "TLS in transit: Blob Storage";
    let src = i.cite(&[i.account_path()]);
    let Some(a) = account(i) else {
        return missing(ID, T, "the storage account", src);
    };
    let tls = a
        .minimum_tls_version
        .clone()
        .unwrap_or_else(|| "TLS1_0".into());
    let https = a.https_only.unwrap_or(true);
    let obs = vec![
        ("minimumTlsVersion", tls.clone()),
        ("supportsHttpsTrafficOnly", https.to_string()),
    ];
    let (outcome, detail) = match (https, tls.to_ascii_uppercase().as_str()) {
        (false, _) => (Outcome::Fail, "HTTP is allowed".to_owned()),
        (true, "TLS1_3") => (Outcome::Pass, "the account requires TLS 1.3".to_owned()),
        (true, "TLS1_2") => (
            Outcome::ServiceMaximum,
            "TLS1_2 is the highest minimum the operator can require of the account at its Storage api-version (2023-05-01): the seed's TLS 1.3 cannot be required, and is negotiated when the client offers it".to_owned(),
        ),
        (true, other) => (Outcome::Fail, format!("minimum {other} allows TLS below 1.2")),
    };
    row(ID, T, outcome, detail, obs, src)
}

fn public_row(
    i: &Inputs<'_>,
    (id, title): (&str, &str),
    declared_off: bool,
    path: String,
    seen: Option<Option<&str>>,
) -> Control {
    if !i.required() && !declared_off {
        return not_required(i, id, title, "public network access off");
    }
    let src = i.cite(&[path]);
    let Some(seen) = seen else {
        return missing(id, title, "the resource", src);
    };
    // Not reported means Enabled.
    let value = seen.unwrap_or("Enabled").to_owned();
    let ok = value.eq_ignore_ascii_case("Disabled");
    let detail = format!("publicNetworkAccess is {value}");
    row(
        id,
        title,
        pass_if(ok),
        detail,
        vec![("publicNetworkAccess", value)],
        src,
    )
}

fn pg_public(i: &Inputs<'_>) -> Control {
    public_row(
        i,
        ("AI-SEC-01.8", "Public network access off: PostgreSQL"),
        i.eff.postgres.network.public_access == PublicNetworkAccess::Disabled,
        i.server_path(),
        server(i).map(|s| s.public_network_access.as_deref()),
    )
}

fn storage_public(i: &Inputs<'_>) -> Control {
    public_row(
        i,
        ("AI-SEC-01.9", "Public network access off: Blob Storage"),
        i.eff.storage.public_network_access == PublicNetworkAccess::Disabled,
        i.account_path(),
        account(i).map(|a| a.public_network_access.as_deref()),
    )
}

fn endpoint(i: &Inputs<'_>, service: Service) -> Control {
    let (id, title, target) = match service {
        Service::Postgres => ("AI-SEC-01.10", "Private endpoint: PostgreSQL", "the server"),
        Service::Blob => (
            "AI-SEC-01.11",
            "Private endpoint: Blob Storage",
            "the account",
        ),
    };
    let pe_id = network::endpoint_id(i.eff, service);
    let src = i.cite(&[
        pe_id.clone(),
        format!("{pe_id}/privateDnsZoneGroups/default"),
        service.target_id(i.eff),
    ]);
    let vnet = i
        .eff
        .postgres
        .network
        .delegated_subnet_resource_id
        .is_some();
    if !i.required() && service.declared(i.eff).is_none() && !(vnet && service == Service::Postgres)
    {
        return not_required(i, id, title, "a private endpoint");
    }
    let (public, connections) = match service {
        Service::Postgres => match server(i) {
            Some(s) => (s.public_network_access.as_deref(), &s.connections),
            None => return missing(id, title, target, src),
        },
        Service::Blob => match account(i) {
            Some(a) => (a.public_network_access.as_deref(), &a.connections),
            None => return missing(id, title, target, src),
        },
    };
    if service == Service::Postgres && server(i).is_some_and(|s| s.delegated_subnet.is_some()) {
        let subnet = or_dash(server(i).and_then(|s| s.delegated_subnet.as_deref()));
        let obs = vec![
            ("mode", "VnetIntegration".into()),
            ("delegatedSubnet", subnet),
        ];
        return row(id, title, Outcome::Pass, "VNet integration", obs, src);
    }
    let n = crate::reconcile::network_status(
        i.eff,
        service,
        i.observed,
        public.unwrap_or("Enabled"),
        connections,
    );
    let approved = n.connection.as_deref() == Some("Approved");
    let zone = n.dns_zone_group == Some(true);
    let ok = n.private_endpoint.is_some() && approved && zone;
    let detail = match (&n.private_endpoint, approved, zone) {
        (None, _, _) => "no private endpoint".to_owned(),
        (Some(_), false, _) => format!(
            "{target} lists the connection {}, not Approved",
            or_dash(n.connection.as_deref())
        ),
        (Some(_), true, false) => "its DNS zone group does not name the declared zone".into(),
        (Some(pe), true, true) => format!("{pe} Approved, DNS zone group in place"),
    };
    let obs = vec![
        ("mode", n.mode),
        ("privateEndpoint", or_dash(n.private_endpoint.as_deref())),
        ("connection", or_dash(n.connection.as_deref())),
        (
            "dnsZoneGroup",
            n.dns_zone_group
                .map_or_else(|| "-".into(), |b| b.to_string()),
        ),
        ("privateIpAddress", or_dash(n.private_ip_address.as_deref())),
    ];
    row(id, title, pass_if(ok), detail, obs, src)
}
