//! The in-memory objects, one resourceVersion counter and the event history watches replay.
//!
//! Every write goes through [`Store::commit`]: a write that changes nothing (once the server's own
//! fields are set) neither bumps the resourceVersion nor records an event.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Map, Value};

use super::errors::KubeError;
use super::meta;
use super::types::{builtins, from_crd, ResourceType};

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change, as a watch sends it.
#[derive(Debug, Clone)]
pub struct Event {
    pub rv: u64,
    pub kind: EventType,
    /// The type's store key (`group/plural`).
    pub key: String,
    pub object: Value,
}

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The object (its status kept when `/status` is a subresource).
    Main,
    /// The `/status` subresource: only `.status` changes.
    Status,
}

/// (type key, namespace or "", name)
type ObjKey = (String, String, String);

/// Everything the server holds.
#[derive(Debug)]
pub struct Store {
    rv: u64,
    types: Vec<ResourceType>,
    objects: BTreeMap<ObjKey, Value>,
    history: VecDeque<Event>,
    history_cap: usize,
    /// Events at or below this resourceVersion are no longer kept.
    compacted: u64,
}

fn key(t: &ResourceType, ns: &str, name: &str) -> ObjKey {
    (t.key(), ns.to_owned(), name.to_owned())
}

impl Store {
    /// A store with the namespaces a fresh cluster has.
    pub fn new(history_cap: usize) -> Self {
        let mut s = Self {
            rv: 0,
            types: builtins(),
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_cap: history_cap.max(1),
            compacted: 0,
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let t = s.types[0].clone();
            let _ = s.create(&t, "", json!({"metadata": {"name": ns}}));
        }
        s
    }

    /// The current resourceVersion.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// The served types.
    pub fn types(&self) -> &[ResourceType] {
        &self.types
    }

    /// Forget every event so far: a watch from an older resourceVersion gets 410.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }

    /// One object, as read through `t`.
    pub fn get(&self, t: &ResourceType, ns: &str, name: &str) -> Result<Value, KubeError> {
        self.stored(t, ns, name).map(|o| meta::with_type(&o, t))
    }

    /// One object as stored.
    fn stored(&self, t: &ResourceType, ns: &str, name: &str) -> Result<Value, KubeError> {
        self.objects
            .get(&key(t, ns, name))
            .cloned()
            .ok_or_else(|| KubeError::not_found(&t.qualified(), name))
    }

    /// The objects of a type, in one namespace or all (`None`), ordered by namespace and name.
    pub fn list(&self, t: &ResourceType, ns: Option<&str>) -> Vec<Value> {
        let k = t.key();
        self.objects
            .iter()
            .filter(|((tk, ons, _), _)| *tk == k && ns.is_none_or(|n| n == ons))
            .map(|(_, o)| meta::with_type(o, t))
            .collect()
    }

    /// The events after `rv`, or 410 when some of them are no longer kept.
    pub fn events_after(&self, rv: u64) -> Result<Vec<Event>, KubeError> {
        if rv < self.compacted {
            return Err(KubeError::Expired {
                asked: rv,
                oldest: self.compacted + 1,
            });
        }
        Ok(self.history.iter().filter(|e| e.rv > rv).cloned().collect())
    }

    fn record(&mut self, kind: EventType, t: &ResourceType, object: &Value) {
        self.history.push_back(Event {
            rv: self.rv,
            kind,
            key: t.key(),
            object: object.clone(),
        });
        while self.history.len() > self.history_cap {
            if let Some(e) = self.history.pop_front() {
                self.compacted = e.rv;
            }
        }
    }

    fn bump(&mut self, obj: &mut Value) {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
    }

    /// Create an object in `ns` ("" for cluster-scoped types).
    pub fn create(&mut self, t: &ResourceType, ns: &str, body: Value) -> Result<Value, KubeError> {
        let mut obj = meta::for_create(t, ns, body)?;
        let name = meta::name(&obj).to_owned();
        if t.namespaced
            && !self
                .objects
                .contains_key(&(self.types[0].key(), String::new(), ns.to_owned()))
        {
            return Err(KubeError::not_found("namespaces", ns));
        }
        if self.objects.contains_key(&key(t, ns, &name)) {
            return Err(KubeError::AlreadyExists {
                what: t.qualified(),
                name,
            });
        }
        if t.key() == "apiextensions.k8s.io/customresourcedefinitions" {
            meta::accept_crd(&mut obj)?;
        }
        if t.plural == "namespaces" && t.group.is_empty() {
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
        }
        self.bump(&mut obj);
        self.record(EventType::Added, t, &obj);
        self.objects.insert(key(t, ns, &name), obj.clone());
        self.refresh_types();
        Ok(meta::with_type(&obj, t))
    }

    /// Replace an object (PUT, or the result of a patch).
    pub fn update(
        &mut self,
        t: &ResourceType,
        ns: &str,
        name: &str,
        body: Value,
        part: Part,
    ) -> Result<Value, KubeError> {
        let old = self.stored(t, ns, name)?;
        let next = meta::for_update(t, &old, body, part)?;
        self.commit(t, ns, name, old, next)
            .map(|o| meta::with_type(&o, t))
    }

    /// Store `next` in place of `old`, unless nothing changed; delete it when it is being deleted
    /// and its last finalizer is gone.
    fn commit(
        &mut self,
        t: &ResourceType,
        ns: &str,
        name: &str,
        old: Value,
        mut next: Value,
    ) -> Result<Value, KubeError> {
        if next == old {
            return Ok(old);
        }
        self.bump(&mut next);
        if meta::deleting(&next) && meta::finalizers(&next).is_empty() {
            return Ok(self.remove(t, ns, name, next));
        }
        self.record(EventType::Modified, t, &next);
        self.objects.insert(key(t, ns, name), next.clone());
        self.refresh_types();
        Ok(next)
    }

    fn remove(&mut self, t: &ResourceType, ns: &str, name: &str, obj: Value) -> Value {
        self.objects.remove(&key(t, ns, name));
        self.record(EventType::Deleted, t, &obj);
        self.refresh_types();
        obj
    }

    /// Delete an object: at once without finalizers, otherwise only mark it with a
    /// deletionTimestamp.
    pub fn delete(&mut self, t: &ResourceType, ns: &str, name: &str) -> Result<Value, KubeError> {
        self.delete_stored(t, ns, name)
            .map(|o| meta::with_type(&o, t))
    }

    fn delete_stored(
        &mut self,
        t: &ResourceType,
        ns: &str,
        name: &str,
    ) -> Result<Value, KubeError> {
        let old = self.stored(t, ns, name)?;
        if !meta::finalizers(&old).is_empty() {
            if meta::deleting(&old) {
                return Ok(old);
            }
            let mut next = old.clone();
            next["metadata"]["deletionTimestamp"] = json!(meta::now());
            next["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            return self.commit(t, ns, name, old, next);
        }
        let served = self.types.clone();
        let mut gone = old;
        self.bump(&mut gone);
        let gone = self.remove(t, ns, name, gone);
        self.cascade(&served, t, name);
        Ok(gone)
    }

    /// What goes with a deleted namespace or CustomResourceDefinition (`served`: the types
    /// before the deletion).
    fn cascade(&mut self, served: &[ResourceType], t: &ResourceType, name: &str) {
        let doomed: Vec<ObjKey> = if t.group.is_empty() && t.plural == "namespaces" {
            self.objects
                .keys()
                .filter(|(_, ns, _)| ns == name)
                .cloned()
                .collect()
        } else if t.key() == "apiextensions.k8s.io/customresourcedefinitions" {
            let prefix = name.split_once('.').map(|(p, g)| format!("{g}/{p}"));
            self.objects
                .keys()
                .filter(|(k, _, _)| prefix.as_deref() == Some(k.as_str()))
                .cloned()
                .collect()
        } else {
            vec![]
        };
        for k in doomed {
            let Some(t) = served.iter().find(|t| t.key() == k.0) else {
                continue;
            };
            if let Some(mut obj) = self.objects.get(&k).cloned() {
                self.bump(&mut obj);
                self.remove(t, &k.1, &k.2, obj);
            }
        }
    }

    /// The served types: the built-ins and what the stored CRDs declare.
    fn refresh_types(&mut self) {
        let mut types = builtins();
        let crd_key = types[1].key();
        for ((k, _, _), crd) in &self.objects {
            if *k == crd_key {
                types.extend(from_crd(crd));
            }
        }
        self.types = types;
    }

    /// Everything, as JSON (for the control API).
    pub fn dump(&self) -> Value {
        let objects: Vec<Value> = self.objects.values().cloned().collect();
        let mut m = Map::new();
        m.insert("resourceVersion".into(), json!(self.rv.to_string()));
        m.insert("objects".into(), Value::Array(objects));
        Value::Object(m)
    }
}
