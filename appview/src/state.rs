//! The one shared application state handed to every handler.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use crate::AppviewOptions;
use crate::cache::Caches;
use crate::views::Presenter;

/// Cheap to clone: everything lives behind one `Arc`.
#[derive(Debug, Clone)]
pub struct AppState(Arc<App>);

/// What every request can reach.
#[derive(Debug)]
pub struct App {
    pub db: PgPool,
    pub options: AppviewOptions,
    pub caches: Arc<Caches>,
    pub presenter: Presenter,
    pub auth: crate::auth::Auth,
    /// The label values the operator acts on.
    pub policy: crate::moderation::Policy,
    /// The labelers a request without `atproto-accept-labelers` applies.
    pub applied: Arc<crate::moderation::Applied>,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl AppState {
    pub fn new(db: PgPool, options: AppviewOptions) -> Self {
        let auth = crate::auth::Auth::new(&options);
        Self::with_auth(db, options, auth)
    }

    /// With a given token verifier (tests supply issuer keys without a PLC directory).
    pub fn with_auth(db: PgPool, options: AppviewOptions, auth: crate::auth::Auth) -> Self {
        let applied = Arc::new(crate::moderation::Applied::choose(
            &Default::default(),
            auth.service_did(),
            &options.labelers,
        ));
        let caches = Arc::new(Caches::new(
            options.cache_mib,
            Duration::from_secs(options.cache_ttl_secs),
            crate::response_cache::new(
                options.response_cache_mib.saturating_mul(1 << 20),
                Duration::from_secs(options.response_cache_secs.max(1)),
            ),
            applied.dids(),
        ));
        let presenter = Presenter {
            public_url: options.public_url(),
            avatar_cdn: options.avatar_cdn.clone(),
            network: options.network(),
        };
        let metrics = crate::telemetry::install_recorder();
        let policy = crate::moderation::Policy::new(
            options.hidden_labels.clone(),
            options.list_hidden_labels.clone(),
            options.sensitive_labels.clone(),
        );
        Self(Arc::new(App { db, options, caches, presenter, auth, policy, applied, metrics }))
    }
}

impl std::ops::Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}
