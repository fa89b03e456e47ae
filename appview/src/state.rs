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
    /// Where every read goes: the database, or its streaming replica (`--read-database-url`).
    pub db: PgPool,
    /// The primary, when reads go to a replica: it carries the change notifications and the
    /// WAL positions they are waited for ([`crate::replica`]).
    pub primary: Option<PgPool>,
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

    /// Reading from `read`, a streaming replica of `primary`.
    pub fn with_replica(read: PgPool, primary: PgPool, options: AppviewOptions) -> Self {
        let auth = crate::auth::Auth::new(&options);
        Self::build(read, Some(primary), options, auth)
    }

    /// With a given token verifier (tests supply issuer keys without a PLC directory).
    pub fn with_auth(db: PgPool, options: AppviewOptions, auth: crate::auth::Auth) -> Self {
        Self::build(db, None, options, auth)
    }

    fn build(db: PgPool, primary: Option<PgPool>, options: AppviewOptions, auth: crate::auth::Auth) -> Self {
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
        Self(Arc::new(App { db, primary, options, caches, presenter, auth, policy, applied, metrics }))
    }
}

impl std::ops::Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}
