//! Terraform-style rendering of a plan: `+` create, `~` update (field: observed → desired), `-` delete,
//! `!` refused with the reason.

use std::fmt::Write;

use super::{Plan, Verb};

/// Counts of a rendered plan.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub create: usize,
    pub change: usize,
    pub refused: usize,
}

/// Render a plan for humans.
pub fn terraform(plan: &Plan) -> (String, Summary) {
    let mut out = String::new();
    let mut sum = Summary::default();
    for a in &plan.actions {
        let (sign, verb) = match a.verb {
            Verb::Create => {
                sum.create += 1;
                ("+", "create")
            }
            Verb::Delete => {
                sum.change += 1;
                ("-", "delete")
            }
            v => {
                sum.change += 1;
                ("~", if v == Verb::Update { "update" } else { "" })
            }
        };
        let verb = if verb.is_empty() {
            a.verb.to_string()
        } else {
            verb.to_owned()
        };
        let _ = writeln!(out, "{sign} {} ({verb})", a.resource);
        for c in &a.changes {
            match &c.observed {
                Some(o) => {
                    let _ = writeln!(out, "    {}: {o} → {}", c.field, c.desired);
                }
                None => {
                    let _ = writeln!(out, "    {}: {}", c.field, c.desired);
                }
            }
        }
    }
    // Drift no action covers now (e.g. deferred while the server is stopped).
    for (resource, c) in &plan.drift {
        let covered = plan
            .actions
            .iter()
            .any(|a| &a.resource == resource && a.changes.iter().any(|x| x.field == c.field));
        if !covered {
            sum.change += 1;
            let obs = c.observed.as_deref().unwrap_or("-");
            let _ = writeln!(
                out,
                "~ {resource} (deferred)\n    {}: {obs} → {}",
                c.field, c.desired
            );
        }
    }
    for r in &plan.refused {
        sum.refused += 1;
        let _ = writeln!(out, "! {} {}: {}", r.resource, r.field, r.reason);
    }
    for n in plan.notes.iter().chain(plan.waiting.iter()) {
        let _ = writeln!(out, "  note: {n}");
    }
    if sum == Summary::default() {
        out.push_str("No changes. Azure matches the spec.\n");
    } else {
        let _ = writeln!(
            out,
            "Plan: {} to create, {} to change, {} refused.",
            sum.create, sum.change, sum.refused
        );
    }
    (out, sum)
}
