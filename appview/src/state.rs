//! The one shared application state handed to every handler.

use std::sync::Arc;

use sqlx::PgPool;

use crate::AppviewOptions;

/// Cheap to clone: everything lives behind one `Arc`.
#[derive(Debug, Clone)]
pub struct AppState(Arc<App>);

/// What every request can reach.
#[derive(Debug)]
pub struct App {
    pub db: PgPool,
    pub options: AppviewOptions,
}

impl AppState {
    pub fn new(db: PgPool, options: AppviewOptions) -> Self {
        Self(Arc::new(App { db, options }))
    }
}

impl std::ops::Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}
