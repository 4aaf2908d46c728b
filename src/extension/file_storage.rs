//! The `file_storage` extension: a directory where components keep what must survive a restart.
//! A forwarding exporter naming it in `sending_queue.storage` keeps its persistent sending queue
//! there instead of in the box's data directory. `directory` defaults to the Collector's
//! `/var/lib/otelcol/file_storage`; it must exist unless `create_directory: true`. `timeout` and
//! `compaction` are accepted (otelbox's queue, a SQLite index and payload files, needs neither).
//! With the Collector's default `fsync: false`, what a queue acknowledged survives otelbox
//! crashing, not the machine losing power; with `fsync: true` each write is synced to the disk
//! before it is acknowledged (payload files, their directory and the index's commits).

use crate::config::{ComponentId, Parser, Settings};
use crate::extension::{Extension, ExtensionFactory, StorageDir};
use futures::future::BoxFuture;
use serde_yaml_ng::Value;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub struct FileStorageConfig {
    pub directory: PathBuf,
    pub create_directory: bool,
    pub fsync: bool,
}

pub struct Factory;
crate::component_type!(Factory, "file_storage", &[], parse);

impl ExtensionFactory for Factory {
    fn build(&self, id: &ComponentId, settings: &Settings) -> anyhow::Result<Arc<dyn Extension>> {
        Ok(Arc::new(FileStorage {
            id: id.clone(),
            config: settings.get::<FileStorageConfig>().clone(),
        }))
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> FileStorageConfig {
    let mut config = FileStorageConfig {
        directory: PathBuf::from("/var/lib/otelcol/file_storage"),
        create_directory: false,
        fsync: false,
    };
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(
        body,
        &[
            "directory",
            "create_directory",
            "directory_permissions",
            "timeout",
            "compaction",
            "fsync",
        ],
        path,
    );
    if let Some(v) = body.get("directory") {
        match p.string(v, &format!("{path}.directory")) {
            Some(text) if text.trim().is_empty() => p.error(&format!("{path}.directory"), "is empty"),
            Some(text) => config.directory = PathBuf::from(text),
            None => {}
        }
    }
    if let Some(v) = body.get("create_directory") {
        config.create_directory = p.boolean(v, &format!("{path}.create_directory")).unwrap_or(false);
    }
    if let Some(v) = body.get("fsync") {
        config.fsync = p.boolean(v, &format!("{path}.fsync")).unwrap_or(false);
    }
    for key in ["timeout"] {
        if let Some(v) = body.get(key) {
            p.duration(v, &format!("{path}.{key}"));
        }
    }
    config
}

struct FileStorage {
    id: ComponentId,
    config: FileStorageConfig,
}

impl Extension for FileStorage {
    fn start(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            let dir = &self.config.directory;
            if self.config.create_directory {
                std::fs::create_dir_all(dir)
                    .map_err(|e| anyhow::anyhow!("{}: cannot create the directory {}: {e}", self.id, dir.display()))?;
            }
            if !dir.is_dir() {
                anyhow::bail!(
                    "{}: the directory {} does not exist; create it or set create_directory: true",
                    self.id,
                    dir.display()
                );
            }
            Ok(())
        })
    }

    fn storage(&self) -> Option<StorageDir<'_>> {
        Some(StorageDir {
            directory: &self.config.directory,
            fsync: self.config.fsync,
        })
    }
}
