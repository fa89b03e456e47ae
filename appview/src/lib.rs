//! The plyr AppView: a stateless HTTP server over the indexed database.
//!
//! Any number of replicas can serve from the same PostgreSQL; all state lives in the database
//! and in per-process caches that the indexer's notifications keep fresh.
//!
//! A request flows: [`server`] (routes, middleware) → [`xrpc`] dispatch ([`auth`] for the
//! viewer, [`params`] checked against the lexicon) → a handler's skeleton ([`db`]) →
//! [`hydrate`] (batched loads, through [`cache`], keeping what the [`rules`] let through, with
//! the labels the request's [`moderation`] applies) →
//! [`views`] (pure presentation).

pub mod albums;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod config;
pub mod cursor;
pub mod db;
pub mod error;
pub mod held;
pub mod hydrate;
pub mod labels;
pub mod mention;
pub mod moderation;
pub mod params;
pub mod ranking;
pub mod ready;
pub mod replica;
pub mod response_cache;
pub mod rest;
pub mod row_cache;
pub mod rules;
pub mod search;
pub mod server;
pub mod state;
pub mod subsonic;
pub mod telemetry;
pub mod track_views;
pub mod views;
pub mod well_known;
pub mod xrpc;

pub use config::AppviewOptions;
pub use error::XrpcError;
pub use server::{router, serve, serve_on};
pub use state::AppState;
