//! Extensions: components outside the pipelines (health checks, authenticators), the
//! `ExtensionFactory` each type registers (`crate::components`), and `Extensions`, the running
//! set that starts them in `service.extensions` order before any receiver and stops them last.
//! Receivers find a (server) authenticator among them by id; the service asks a client
//! authenticator for the `Authorization` value of the exporters naming it (`ClientAuthorization`:
//! once at start-up, or before every request for one whose value changes, an OAuth2 token).

pub mod basicauth;
pub mod bearertokenauth;
pub mod file_storage;
pub mod health_check;
pub mod healthcheckv2;
pub mod oauth2client;
pub mod pprof;
pub mod zpages;

use crate::config::{ComponentId, ComponentType, Settings};
use futures::future::BoxFuture;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A directory where components keep what must survive a restart (a storage extension's, or the
/// box's data directory), and how hard it holds on to what is written there.
#[derive(Clone, Copy, Debug)]
pub struct StorageDir<'a> {
    pub directory: &'a Path,
    /// Each write synced to the disk before it is acknowledged, so that it survives the machine
    /// losing power too (`file_storage`'s `fsync: true`; `SendingQueue::syncing_each_write`).
    pub fsync: bool,
}

impl<'a> StorageDir<'a> {
    /// A directory whose writes survive otelbox crashing, not the machine losing power.
    pub fn new(directory: &'a Path) -> StorageDir<'a> {
        StorageDir { directory, fsync: false }
    }
}

/// Builds an extension type's instance.
pub trait ExtensionFactory: ComponentType {
    fn build(&self, id: &ComponentId, settings: &Settings) -> anyhow::Result<Arc<dyn Extension>>;
}

pub trait Extension: Send + Sync {
    /// Starts it (binds its port, reads its files); an error stops the box's start-up.
    fn start(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    /// `Some` for a server authenticator, which receivers can name in `auth.authenticator`.
    fn authenticator(&self) -> Option<&dyn Authenticator> {
        None
    }
    /// `Some` for a client authenticator, which exporters can name in `auth.authenticator`.
    fn client_authenticator(&self) -> Option<&dyn ClientAuthenticator> {
        None
    }
    /// `Some` for a storage extension: where components naming it keep their files, and how.
    fn storage(&self) -> Option<StorageDir<'_>> {
        None
    }
    /// Told when the box starts serving (`true`) and when it starts shutting down (`false`).
    fn set_ready(&self, _ready: bool) {}
}

/// Checks a request's headers (HTTP headers, or gRPC metadata as headers) before its body is read.
pub trait Authenticator: Send + Sync {
    /// `Err` with the reason to answer 401 / UNAUTHENTICATED with.
    fn authenticate(&self, headers: &http::HeaderMap) -> Result<(), String>;
}

/// Makes the credentials an exporter sends with every request.
pub trait ClientAuthenticator: Send + Sync {
    /// The `Authorization` value (HTTP header, or gRPC `authorization` metadata), marked sensitive;
    /// asked for once the extension has started (once, or before every request when `refreshes`).
    /// `Err` says why it cannot be made.
    fn authorization(&self) -> anyhow::Result<http::HeaderValue>;
    /// Whether the value changes while the box runs (an OAuth2 access token): exporters then ask
    /// for it before every request rather than once at start-up, and a request made while there is
    /// none fails retryably (the batch waits in the queue).
    fn refreshes(&self) -> bool {
        false
    }
}

/// The `Authorization` value an exporter sends, as the service hands it over
/// (`ExporterContext::authorization`): fixed at start-up (`bearertokenauth`, `basicauth`), or
/// asked of its authenticator before every request (`oauth2client`). Debug never shows the value.
#[derive(Clone)]
pub struct ClientAuthorization(AuthorizationSource);

#[derive(Clone)]
enum AuthorizationSource {
    Fixed(http::HeaderValue),
    /// The running extension `id`, whose `client_authenticator().authorization()` is current.
    Live {
        id: ComponentId,
        extension: Arc<dyn Extension>,
    },
}

impl ClientAuthorization {
    pub fn fixed(mut value: http::HeaderValue) -> ClientAuthorization {
        value.set_sensitive(true);
        ClientAuthorization(AuthorizationSource::Fixed(value))
    }

    /// The value when it never changes, which an exporter sets up once.
    pub fn fixed_value(&self) -> Option<&http::HeaderValue> {
        match &self.0 {
            AuthorizationSource::Fixed(value) => Some(value),
            AuthorizationSource::Live { .. } => None,
        }
    }

    /// The value to send now, marked sensitive; `Err` says why there is none (no token yet), which
    /// the exporters make a retryable failure of the request.
    pub fn current(&self) -> Result<http::HeaderValue, String> {
        match &self.0 {
            AuthorizationSource::Fixed(value) => Ok(value.clone()),
            AuthorizationSource::Live { id, extension } => {
                let client = extension
                    .client_authenticator()
                    .ok_or_else(|| format!("extension \"{id}\" is not a client authenticator"))?;
                let mut value = client.authorization().map_err(|e| format!("authenticator \"{id}\": {e}"))?;
                value.set_sensitive(true);
                Ok(value)
            }
        }
    }
}

impl From<http::HeaderValue> for ClientAuthorization {
    fn from(value: http::HeaderValue) -> ClientAuthorization {
        ClientAuthorization::fixed(value)
    }
}

impl fmt::Debug for ClientAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            AuthorizationSource::Fixed(_) => f.write_str("ClientAuthorization(<redacted>)"),
            AuthorizationSource::Live { id, .. } => write!(f, "ClientAuthorization(from {id})"),
        }
    }
}

/// The running extensions, in start order.
#[derive(Default)]
pub struct Extensions {
    running: Vec<(ComponentId, Arc<dyn Extension>)>,
}

impl Extensions {
    /// Starts each built extension in order; on an error, stops those already started.
    pub async fn start(built: Vec<(ComponentId, Arc<dyn Extension>)>) -> anyhow::Result<Extensions> {
        let mut extensions = Extensions::default();
        for (id, extension) in built {
            if let Err(e) = extension.start().await {
                extensions.shutdown().await;
                anyhow::bail!("extension {id}: {e}");
            }
            extensions.running.push((id, extension));
        }
        Ok(extensions)
    }

    /// The authenticator extension `id`; an error says why it cannot serve as one.
    pub fn authenticator(&self, id: &ComponentId) -> anyhow::Result<Arc<dyn Extension>> {
        let extension = self.running_authenticator(id)?;
        if extension.authenticator().is_none() {
            anyhow::bail!("extension \"{id}\" is not an authenticator");
        }
        Ok(extension.clone())
    }

    /// The `Authorization` value the client authenticator extension `id` has an exporter send: made
    /// now, or for one whose value changes (`refreshes`), before every request. An error says why
    /// it cannot serve as one (a basicauth with only `htpasswd` checks requests, it sends none).
    pub fn client_authorization(&self, id: &ComponentId) -> anyhow::Result<ClientAuthorization> {
        let extension = self.running_authenticator(id)?;
        let client = extension.client_authenticator().ok_or_else(|| {
            anyhow::anyhow!(
                "extension \"{id}\" is not a client authenticator; an exporter needs a bearertokenauth with token or filename, or a basicauth with client_auth"
            )
        })?;
        if client.refreshes() {
            return Ok(ClientAuthorization(AuthorizationSource::Live {
                id: id.clone(),
                extension: extension.clone(),
            }));
        }
        client
            .authorization()
            .map(ClientAuthorization::fixed)
            .map_err(|e| anyhow::anyhow!("authenticator \"{id}\": {e}"))
    }

    fn running_authenticator(&self, id: &ComponentId) -> anyhow::Result<&Arc<dyn Extension>> {
        self.running
            .iter()
            .find(|(running, _)| running == id)
            .map(|(_, extension)| extension)
            .ok_or_else(|| anyhow::anyhow!("authenticator \"{id}\" is not a running extension (list it in service.extensions)"))
    }

    /// The storage of the storage extension `id`, if it is a running one.
    pub fn storage(&self, id: &ComponentId) -> Option<StorageDir<'_>> {
        self.running
            .iter()
            .find(|(running, _)| running == id)
            .and_then(|(_, extension)| extension.storage())
    }

    /// Tells every extension whether the box serves (health checks answer accordingly).
    pub fn set_ready(&self, ready: bool) {
        for (_, extension) in &self.running {
            extension.set_ready(ready);
        }
    }

    /// Stops them in reverse start order.
    pub async fn shutdown(&self) {
        for (_, extension) in self.running.iter().rev() {
            extension.shutdown().await;
        }
    }
}
