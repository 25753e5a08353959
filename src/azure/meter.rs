//! What one pass costs of each budget, measured: the pipeline policy charges every request it
//! admits to the cost of the task that sent it, when that task runs inside [`metered`]. The
//! scheduler sizes its sweep period from these measured costs rather than from a guess.

use std::cell::Cell;

use super::throttle::{Class, StorageClass};

/// Requests of one pass (or any metered future), by the budget they draw on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// ARM reads (GET, HEAD), Storage RP reads and lists included.
    pub reads: u32,
    /// ARM writes and deletes.
    pub writes: u32,
    /// Reads the Storage resource provider counts as reads (800 per 5 minutes).
    pub storage_reads: u32,
    /// Lists of accounts or containers (100 per 5 minutes).
    pub storage_lists: u32,
    /// Writes to the Storage resource provider (10 per second, 1,200 per hour).
    pub storage_writes: u32,
    /// Azure Resource Graph queries (15 per 5 seconds per principal; not ARM's reads).
    pub graph: u32,
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, o: Self) {
        self.reads += o.reads;
        self.writes += o.writes;
        self.storage_reads += o.storage_reads;
        self.storage_lists += o.storage_lists;
        self.storage_writes += o.storage_writes;
        self.graph += o.graph;
    }
}

tokio::task_local! {
    static COST: Cell<Cost>;
}

/// Run `f`, returning what its requests cost (those sent from its own task; a task it spawns is
/// not counted).
pub async fn metered<F: std::future::Future>(f: F) -> (F::Output, Cost) {
    COST.scope(Cell::new(Cost::default()), async {
        let out = f.await;
        (out, COST.with(Cell::get))
    })
    .await
}

/// Charge one request to the current metered task, if any.
pub(crate) fn charge(class: Class, storage: Option<StorageClass>) {
    let _ = COST.try_with(|c| {
        let mut cost = c.get();
        match class {
            Class::Read => cost.reads += 1,
            Class::Write | Class::Delete => cost.writes += 1,
            Class::Graph => cost.graph += 1,
        }
        match storage {
            Some(StorageClass::Read) => cost.storage_reads += 1,
            Some(StorageClass::List) => cost.storage_lists += 1,
            Some(StorageClass::Write) => cost.storage_writes += 1,
            None => {}
        }
        c.set(cost);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn charges_go_to_the_metered_task_only() {
        charge(Class::Read, None); // outside: nobody pays
        let ((), cost) = metered(async {
            charge(Class::Read, Some(StorageClass::List));
            charge(Class::Write, Some(StorageClass::Write));
            charge(Class::Read, None);
        })
        .await;
        assert_eq!(
            cost,
            Cost {
                reads: 2,
                writes: 1,
                storage_reads: 0,
                storage_lists: 1,
                storage_writes: 1,
                graph: 0
            }
        );
    }
}
