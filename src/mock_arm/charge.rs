//! Which limits a request draws on (see `throttle.rs`): ARM's by method, and the Storage resource
//! provider's for `Microsoft.Storage` paths, in the region of the account they address.

use serde_json::Value;

use super::router::{Route, Target};
use super::store::{arm_id, World};
use super::throttle::{ArmClass, Charge, StorageClass};

/// The account's region: as stored, else as the create's body says, else `global`.
fn account_region(world: &World, sub: &str, rg: &str, account: &str, body: &Value) -> String {
    let id = arm_id(
        sub,
        rg,
        &format!("Microsoft.Storage/storageAccounts/{account}"),
    );
    world
        .get_any(&id)
        .and_then(|r| r.body["location"].as_str().map(ToOwned::to_owned))
        .or_else(|| body["location"].as_str().map(ToOwned::to_owned))
        .unwrap_or_else(|| "global".into())
}

/// The charge of `method` on `route`; `path` is the request path, `body` its parsed body.
pub fn of(route: &Route, method: &str, path: &str, world: &World, body: &Value) -> Charge {
    let arm = ArmClass::of(method);
    let read = arm == ArmClass::Read;
    let class = |list: bool| match (read, list) {
        (true, true) => StorageClass::List,
        (true, false) => StorageClass::Read,
        (false, _) => StorageClass::Write,
    };
    let storage = match &route.target {
        Target::Account { sub, rg, name } => {
            Some((account_region(world, sub, rg, name, body), class(false)))
        }
        Target::ContainerList { sub, rg, account } => {
            Some((account_region(world, sub, rg, account, body), class(true)))
        }
        Target::Policy {
            sub, rg, account, ..
        }
        | Target::Container {
            sub, rg, account, ..
        } => Some((account_region(world, sub, rg, account, body), class(false))),
        Target::StorageOp { .. } => {
            // `.../providers/Microsoft.Storage/locations/{region}/asyncoperations/{id}`
            let segs: Vec<&str> = path.split('/').collect();
            let region = segs
                .iter()
                .position(|s| s.eq_ignore_ascii_case("locations"))
                .and_then(|i| segs.get(i + 1))
                .map_or("global".to_owned(), |r| r.to_string());
            Some((region, class(false)))
        }
        Target::AccountNameCheck => Some(("global".into(), class(false))),
        _ => None,
    };
    Charge { arm, storage }
}
