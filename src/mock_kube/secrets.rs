//! Secrets as the API server stores them: `stringData` is written into `data` (base64) and not
//! kept; `type` defaults to `Opaque`.

use serde_json::{json, Value};

use super::types::ResourceType;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Whether the type is the core v1 Secret.
fn is_secret(t: &ResourceType) -> bool {
    t.group.is_empty() && t.plural == "secrets"
}

/// What a write of a Secret stores.
pub fn stored(t: &ResourceType, mut body: Value) -> Value {
    if !is_secret(t) {
        return body;
    }
    if let Some(Value::Object(string_data)) =
        body.as_object_mut().and_then(|m| m.remove("stringData"))
    {
        if !body["data"].is_object() {
            body["data"] = json!({});
        }
        for (k, v) in string_data {
            let text = v.as_str().unwrap_or_default();
            body["data"][k] = json!(base64(text.as_bytes()));
        }
    }
    if body.get("type").is_none() {
        body["type"] = json!("Opaque");
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"hello world"), "aGVsbG8gd29ybGQ=");
    }

    #[test]
    fn string_data_goes_into_data() {
        let t = super::super::types::builtins()
            .into_iter()
            .find(is_secret)
            .unwrap();
        let s = stored(
            &t,
            json!({"metadata": {"name": "s"}, "data": {"a": "Zg=="}, "stringData": {"b": "fo"}}),
        );
        assert_eq!(
            s,
            json!({"metadata": {"name": "s"}, "data": {"a": "Zg==", "b": "Zm8="}, "type": "Opaque"})
        );
    }
}
