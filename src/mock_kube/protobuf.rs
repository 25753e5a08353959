//! Request bodies in `application/vnd.kubernetes.protobuf`, which kubectl's typed commands send
//! (`kubectl create namespace` does, whatever discovery said). Only what mock-kube serves is
//! decoded: the `k8s\0` envelope (`runtime.Unknown`), ObjectMeta's client-set fields (name,
//! generateName, namespace, labels, annotations, finalizers), a Namespace's spec, and ConfigMaps
//! and Secrets (`kubectl create configmap|secret`).
//! Answers are JSON, which kubectl also accepts.

use serde_json::{json, Map, Value};

use super::errors::KubeError;

/// The media type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

fn bad(what: &str) -> KubeError {
    KubeError::BadRequest(format!("protobuf body: {what}"))
}

/// One field of a message: its number and its value (varint, or length-delimited bytes).
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, KubeError> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or_else(|| bad("truncated varint"))?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(bad("varint too long"))
}

/// The fields of a message, in order (fixed-width fields are skipped).
fn fields(buf: &[u8]) -> Result<Vec<(u64, Wire<'_>)>, KubeError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let (num, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                let v = varint(buf, &mut pos)?;
                out.push((num, Wire::Varint(v)));
            }
            1 | 5 => pos += if wire == 1 { 8 } else { 4 },
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).map_err(|_| bad("length"))?;
                let end = pos.checked_add(len).filter(|e| *e <= buf.len());
                let end = end.ok_or_else(|| bad("truncated field"))?;
                out.push((num, Wire::Bytes(&buf[pos..end])));
                pos = end;
            }
            _ => return Err(bad("unsupported wire type")),
        }
    }
    Ok(out)
}

fn text(b: &[u8]) -> Result<String, KubeError> {
    String::from_utf8(b.to_vec()).map_err(|_| bad("a string is not UTF-8"))
}

/// Field `num`'s bytes, for every occurrence.
fn all<'a>(fs: &[(u64, Wire<'a>)], num: u64) -> Vec<&'a [u8]> {
    fs.iter()
        .filter_map(|(n, w)| match w {
            Wire::Bytes(b) if *n == num => Some(*b),
            _ => None,
        })
        .collect()
}

fn string(fs: &[(u64, Wire<'_>)], num: u64) -> Result<Option<String>, KubeError> {
    all(fs, num).last().map(|b| text(b)).transpose()
}

fn strings(fs: &[(u64, Wire<'_>)], num: u64) -> Result<Vec<Value>, KubeError> {
    all(fs, num)
        .into_iter()
        .map(|b| text(b).map(Value::String))
        .collect()
}

fn flag(fs: &[(u64, Wire<'_>)], num: u64) -> Option<bool> {
    fs.iter().rev().find_map(|(n, w)| match w {
        Wire::Varint(v) if *n == num => Some(*v != 0),
        _ => None,
    })
}

/// A `map<string, bytes>` as JSON shows it: values in base64.
fn bytes_map(fs: &[(u64, Wire<'_>)], num: u64) -> Result<Option<Value>, KubeError> {
    let entries = all(fs, num);
    if entries.is_empty() {
        return Ok(None);
    }
    let mut m = Map::new();
    for e in entries {
        let kv = fields(e)?;
        let k = string(&kv, 1)?.unwrap_or_default();
        let v = all(&kv, 2).last().copied().unwrap_or_default();
        m.insert(k, Value::String(super::secrets::base64(v)));
    }
    Ok(Some(Value::Object(m)))
}

/// A `map<string, string>`: repeated entries with key 1 and value 2.
fn string_map(fs: &[(u64, Wire<'_>)], num: u64) -> Result<Option<Value>, KubeError> {
    let entries = all(fs, num);
    if entries.is_empty() {
        return Ok(None);
    }
    let mut m = Map::new();
    for e in entries {
        let kv = fields(e)?;
        let k = string(&kv, 1)?.unwrap_or_default();
        m.insert(k, Value::String(string(&kv, 2)?.unwrap_or_default()));
    }
    Ok(Some(Value::Object(m)))
}

fn object_meta(buf: &[u8]) -> Result<Value, KubeError> {
    let fs = fields(buf)?;
    let mut m = Map::new();
    for (num, key) in [(1, "name"), (2, "generateName"), (3, "namespace")] {
        // Unset and empty strings look alike on the wire; empty means unset here.
        if let Some(s) = string(&fs, num)?.filter(|s| !s.is_empty()) {
            m.insert(key.into(), Value::String(s));
        }
    }
    for (num, key) in [(11, "labels"), (12, "annotations")] {
        if let Some(v) = string_map(&fs, num)? {
            m.insert(key.into(), v);
        }
    }
    let finalizers = strings(&fs, 14)?;
    if !finalizers.is_empty() {
        m.insert("finalizers".into(), Value::Array(finalizers));
    }
    Ok(Value::Object(m))
}

/// Decode a protobuf request body to the JSON object it stands for.
pub fn decode(body: &[u8]) -> Result<Value, KubeError> {
    let unknown = body
        .strip_prefix(b"k8s\0")
        .ok_or_else(|| bad("missing the k8s envelope"))?;
    let fs = fields(unknown)?;
    let type_meta = fields(all(&fs, 1).first().copied().unwrap_or_default())?;
    let api_version = string(&type_meta, 1)?.unwrap_or_default();
    let kind = string(&type_meta, 2)?.unwrap_or_default();
    let raw = fields(all(&fs, 2).first().copied().unwrap_or_default())?;
    let metadata = object_meta(all(&raw, 1).first().copied().unwrap_or_default())?;
    match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace") => {
            let spec = fields(all(&raw, 2).first().copied().unwrap_or_default())?;
            let mut ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata});
            let finalizers = strings(&spec, 1)?;
            if !finalizers.is_empty() {
                ns["spec"] = json!({"finalizers": finalizers});
            }
            Ok(ns)
        }
        ("v1", "ConfigMap" | "Secret") => {
            let mut obj = json!({"apiVersion": "v1", "kind": kind, "metadata": metadata});
            let secret = kind == "Secret";
            let maps = if secret {
                [("data", bytes_map(&raw, 2)?), ("stringData", string_map(&raw, 4)?)]
            } else {
                [("data", string_map(&raw, 2)?), ("binaryData", bytes_map(&raw, 3)?)]
            };
            for (key, v) in maps {
                if let Some(v) = v {
                    obj[key] = v;
                }
            }
            if secret {
                if let Some(t) = string(&raw, 3)?.filter(|t| !t.is_empty()) {
                    obj["type"] = json!(t);
                }
            }
            if let Some(true) = flag(&raw, if secret { 5 } else { 4 }) {
                obj["immutable"] = json!(true);
            }
            Ok(obj)
        }
        _ => Err(KubeError::UnsupportedMediaType(format!(
            "application/json ({MEDIA_TYPE} only for v1 Namespace, ConfigMap and Secret in mock-kube, not {api_version} {kind})"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(num: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![
            u8::try_from(num << 3 | 2).unwrap(),
            u8::try_from(bytes.len()).unwrap(),
        ];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn a_namespace_as_kubectl_create_sends_it() {
        let type_meta = [field(1, b"v1"), field(2, b"Namespace")].concat();
        let label = [field(1, b"team"), field(2, b"data")].concat();
        let meta = [
            field(1, b"engram"),
            field(2, b""),
            field(11, &label),
            field(14, b"x/y"),
        ]
        .concat();
        let spec = field(1, b"kubernetes");
        let raw = [field(1, &meta), field(2, &spec), field(3, &[])].concat();
        let unknown = [field(1, &type_meta), field(2, &raw), field(4, b"")].concat();
        let body = [b"k8s\0".as_slice(), &unknown].concat();
        assert_eq!(
            decode(&body).unwrap(),
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "engram", "labels": {"team": "data"}, "finalizers": ["x/y"]},
                   "spec": {"finalizers": ["kubernetes"]}})
        );
        assert_eq!(decode(b"k8s\0\x0a").map_err(|e| e.code()), Err(400));
        let type_meta = [field(1, b"v1"), field(2, b"Secret")].concat();
        let entry = [field(1, b"k"), field(2, b"hi")].concat();
        let raw = [
            field(1, &field(1, b"s")),
            field(2, &entry),
            field(3, b"Opaque"),
        ]
        .concat();
        let body = [b"k8s\0".as_slice(), &field(1, &type_meta), &field(2, &raw)].concat();
        assert_eq!(
            decode(&body).unwrap(),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                   "data": {"k": "aGk="}, "type": "Opaque"})
        );
        assert_eq!(decode(b"{}").map_err(|e| e.code()), Err(400));
    }
}
