//! JSON Patch (RFC 6902), with the API server's leniency: a `test` of `null` against a missing
//! path succeeds (kube-runtime's finalizer helper sends it for an object without finalizers).

use serde_json::Value;

use super::errors::KubeError;

fn bad(msg: impl Into<String>) -> KubeError {
    KubeError::Invalid(msg.into())
}

/// The reference tokens of a JSON Pointer.
fn tokens(pointer: &str) -> Result<Vec<String>, KubeError> {
    if pointer.is_empty() {
        return Ok(vec![]);
    }
    let rest = pointer
        .strip_prefix('/')
        .ok_or_else(|| bad(format!("invalid JSON pointer {pointer:?}")))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

/// The parent container of a pointer and the last token.
fn parent<'a>(doc: &'a mut Value, pointer: &str) -> Result<(&'a mut Value, String), KubeError> {
    let mut toks = tokens(pointer)?;
    let last = toks
        .pop()
        .ok_or_else(|| bad("the whole document cannot be the target"))?;
    let mut cur = doc;
    for t in &toks {
        cur = match cur {
            Value::Object(m) => m.get_mut(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| bad(format!("doc is missing path: {pointer:?}")))?;
    }
    Ok((cur, last))
}

fn index(t: &str, len: usize, adding: bool) -> Result<usize, KubeError> {
    if adding && t == "-" {
        return Ok(len);
    }
    let i: usize = t
        .parse()
        .map_err(|_| bad(format!("invalid array index {t:?}")))?;
    let max = if adding { len } else { len.saturating_sub(1) };
    if i > max || (!adding && len == 0) {
        return Err(bad(format!("array index {i} out of bounds")));
    }
    Ok(i)
}

fn add(doc: &mut Value, path: &str, v: Value) -> Result<(), KubeError> {
    let (p, last) = parent(doc, path)?;
    match p {
        Value::Object(m) => {
            m.insert(last, v);
        }
        Value::Array(a) => {
            let i = index(&last, a.len(), true)?;
            a.insert(i, v);
        }
        _ => return Err(bad(format!("doc is missing path: {path:?}"))),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, KubeError> {
    let (p, last) = parent(doc, path)?;
    match p {
        Value::Object(m) => m.remove(&last),
        Value::Array(a) => {
            let i = index(&last, a.len(), false)?;
            Some(a.remove(i))
        }
        _ => None,
    }
    .ok_or_else(|| bad(format!("unable to remove nonexistent key: {path:?}")))
}

fn get(doc: &Value, path: &str) -> Option<Value> {
    doc.pointer(path).cloned()
}

/// Apply the operations in order; the first failure refuses the whole patch.
pub fn apply(doc: &Value, patch: &Value) -> Result<Value, KubeError> {
    let ops = patch
        .as_array()
        .ok_or_else(|| KubeError::BadRequest("a JSON patch must be an array".into()))?;
    let mut out = doc.clone();
    for op in ops {
        let path = op["path"]
            .as_str()
            .ok_or_else(|| bad("an operation has no path"))?;
        let from = || {
            op["from"]
                .as_str()
                .ok_or_else(|| bad("an operation has no from"))
        };
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| bad("an operation has no value"))
        };
        match op["op"].as_str().unwrap_or_default() {
            "add" => add(&mut out, path, value()?)?,
            "remove" => {
                remove(&mut out, path)?;
            }
            "replace" => {
                remove(&mut out, path)?;
                add(&mut out, path, value()?)?;
            }
            "move" => {
                let v = remove(&mut out, from()?)?;
                add(&mut out, path, v)?;
            }
            "copy" => {
                let v = get(&out, from()?).ok_or_else(|| bad("copy from a missing path"))?;
                add(&mut out, path, v)?;
            }
            "test" => {
                let want = value()?;
                let have = get(&out, path).unwrap_or(Value::Null);
                if have != want {
                    return Err(bad(format!("testing value {path} failed")));
                }
            }
            other => return Err(bad(format!("unexpected kind: {other:?}"))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations() {
        let doc = json!({"metadata": {"finalizers": ["a"]}, "a/b": 1});
        let p = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": ["a"]},
            {"op": "add", "path": "/metadata/finalizers/-", "value": "b"},
            {"op": "replace", "path": "/a~1b", "value": 2},
            {"op": "copy", "from": "/a~1b", "path": "/c"},
            {"op": "move", "from": "/c", "path": "/d"},
            {"op": "remove", "path": "/metadata/finalizers/0"},
        ]);
        assert_eq!(
            apply(&doc, &p).unwrap(),
            json!({"metadata": {"finalizers": ["b"]}, "a/b": 2, "d": 2})
        );
    }

    #[test]
    fn test_null_on_a_missing_path_passes_and_a_mismatch_fails() {
        let doc = json!({"metadata": {}});
        let ok = json!([{"op": "test", "path": "/metadata/finalizers", "value": null},
                        {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}]);
        assert_eq!(
            apply(&doc, &ok).unwrap()["metadata"]["finalizers"],
            json!(["f"])
        );
        let no = json!([{"op": "test", "path": "/metadata", "value": null}]);
        assert_eq!(apply(&doc, &no).map_err(|e| e.code()), Err(422));
        let missing = json!([{"op": "remove", "path": "/x"}]);
        assert!(apply(&doc, &missing).is_err());
    }
}
