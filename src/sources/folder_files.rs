//! Folder mode's files: status files (written atomically, read back on restart), the mid-pass
//! status checkpoint of a create's intent, and the exports env file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::folder::Spec;
use crate::api::EngramDataPlaneStatus;
use crate::reconcile::intent::{CheckpointError, StatusSink};
use crate::{Error, Result};

/// Where a data plane's status file lives.
pub fn status_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.status.yaml"))
}

/// Read a status file written earlier (a restarted operator resumes its pending operations).
pub fn read_status(dir: &Path, name: &str) -> Option<EngramDataPlaneStatus> {
    let text = std::fs::read_to_string(status_path(dir, name)).ok()?;
    serde_saphyr::from_str(&text).ok()
}

/// Write a status file atomically.
pub fn write_status(dir: &Path, name: &str, status: &EngramDataPlaneStatus) -> Result<()> {
    let text = serde_saphyr::to_string(status).map_err(|e| Error::Yaml(e.to_string()))?;
    write_atomic(&status_path(dir, name), &text)
}

/// The mid-pass status write of one plane (write-ahead intent of a create): its status file,
/// written atomically; remembers that it wrote, so that the end of the pass writes too.
pub(super) struct FileSink {
    pub(super) dir: PathBuf,
    pub(super) name: String,
    pub(super) wrote: AtomicBool,
}

#[async_trait::async_trait]
impl StatusSink for FileSink {
    async fn checkpoint(&self, status: &EngramDataPlaneStatus) -> Result<(), CheckpointError> {
        write_status(&self.dir, &self.name, status).map_err(|e| CheckpointError(e.to_string()))?;
        self.wrote.store(true, Ordering::Relaxed);
        Ok(())
    }
}

/// Write a file atomically: a temporary file beside it (`.{name}.tmp`), then a rename, so a
/// reader sees the old contents or the new, never half of them. Creates the folder.
fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("out");
    let tmp = dir.join(format!(".{file}.tmp"));
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Write a plane's exports (`spec.exports.file`, an env file) when its contents differ from the
/// file's. True when written.
pub fn write_exports(path: &Path, exports: &BTreeMap<String, String>) -> Result<bool> {
    let text = crate::plan::exports::env_file(exports);
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(false);
    }
    write_atomic(path, &text)?;
    Ok(true)
}

/// Where the export file of the plane declared in `spec_file` goes, if it declares one: relative
/// to the spec file's folder (validation refuses absolute paths and `..`).
pub(super) fn export_path(spec_file: &Path, spec: &Spec) -> Option<PathBuf> {
    let file = spec.as_ref().ok()?.exports.as_ref()?.file.as_deref()?;
    Some(spec_file.parent().unwrap_or(Path::new(".")).join(file))
}
