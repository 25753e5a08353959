//! Field selectors (`metadata.name`, `metadata.namespace`) and equality-based label selectors.

use serde_json::Value;

use super::errors::KubeError;

/// One `key=value`, `key!=value`, `key` (exists) or `!key` (absent) term.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Eq(String, String),
    Ne(String, String),
    Exists(String),
    Absent(String),
}

fn terms(s: &str) -> Vec<Term> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            if let Some((k, v)) = t.split_once("!=") {
                Term::Ne(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                Term::Eq(k.trim().into(), v.trim().into())
            } else if let Some(k) = t.strip_prefix('!') {
                Term::Absent(k.trim().into())
            } else {
                Term::Exists(t.into())
            }
        })
        .collect()
}

/// The selectors of a list or watch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    fields: Vec<Term>,
    labels: Vec<Term>,
}

impl Selector {
    /// From the `fieldSelector` and `labelSelector` query parameters.
    /// `any_field`: every field path may be selected on (Events: `involvedObject.name`, …);
    /// otherwise only `metadata.name` and `metadata.namespace`.
    pub fn parse(
        fields: Option<&str>,
        labels: Option<&str>,
        any_field: bool,
    ) -> Result<Self, KubeError> {
        let fields = terms(fields.unwrap_or_default());
        for t in &fields {
            let (Term::Eq(k, _) | Term::Ne(k, _)) = t else {
                return Err(KubeError::BadRequest(format!(
                    "invalid field selector: {t:?}"
                )));
            };
            if !any_field && k != "metadata.name" && k != "metadata.namespace" {
                return Err(KubeError::BadRequest(format!(
                    "field label not supported: {k}"
                )));
            }
        }
        let labels = terms(labels.unwrap_or_default());
        if labels
            .iter()
            .any(|t| matches!(t, Term::Eq(k, _) | Term::Exists(k) if k.contains(' ')))
        {
            return Err(KubeError::BadRequest(
                "set-based label selectors (in, notin) are not supported by mock-kube".into(),
            ));
        }
        Ok(Self { fields, labels })
    }

    /// Whether the object matches every term.
    pub fn matches(&self, obj: &Value) -> bool {
        let m = &obj["metadata"];
        let field = |k: &str| {
            let v = k.split('.').try_fold(obj, |cur, seg| cur.get(seg))?;
            match v {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            }
        };
        let label = |k: &str| m["labels"][k].as_str().map(str::to_owned);
        fn ok(t: &Term, get: &dyn Fn(&str) -> Option<String>) -> bool {
            match t {
                Term::Eq(k, v) => get(k).as_deref() == Some(v.as_str()),
                Term::Ne(k, v) => get(k).as_deref() != Some(v.as_str()),
                Term::Exists(k) => get(k).is_some(),
                Term::Absent(k) => get(k).is_none(),
            }
        }
        self.fields.iter().all(|t| ok(t, &field)) && self.labels.iter().all(|t| ok(t, &label))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_and_label_terms() {
        let o = json!({"metadata": {"name": "a", "namespace": "n", "labels": {"x": "1"}}});
        let s = |f, l| Selector::parse(f, l, false).unwrap().matches(&o);
        assert!(s(Some("metadata.name=a"), None));
        assert!(!s(Some("metadata.name=b"), None));
        assert!(s(
            Some("metadata.name==a,metadata.namespace!=m"),
            Some("x=1,!y")
        ));
        assert!(!s(None, Some("x!=1")));
        assert!(s(None, Some("x")));
        assert!(Selector::parse(Some("spec.x=1"), None, false).is_err());
        let ev = json!({"metadata": {"name": "e"}, "involvedObject": {"name": "a", "kind": "K"}, "count": 2});
        let sel = Selector::parse(
            Some("involvedObject.name=a,involvedObject.kind=K,count=2"),
            None,
            true,
        )
        .unwrap();
        assert!(sel.matches(&ev));
    }
}
