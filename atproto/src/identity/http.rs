//! Bounded HTTP GETs for identity lookups.
//!
//! Owns the HTTP client configurations of the identity module (timeouts, redirects, user
//! agent, which addresses may be connected to) and the body reader that stops at a size limit,
//! so that a hostile server can neither make a lookup buffer without bound nor keep it open
//! past the request timeout.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Client, StatusCode, Url, redirect};

use super::IdentityError;
pub(crate) use crate::outbound::error_chain;
use crate::outbound::{NetworkPolicy, PublicDns};

/// Most redirects followed for one lookup from a configured directory.
const MAX_REDIRECTS: usize = 3;

/// The outcome of a GET that reached the server.
pub(crate) enum Fetched {
    /// A 2xx answer with its body (at most the limit).
    Body(Vec<u8>),
    /// 404 Not Found or 410 Gone.
    NotFound,
}

/// Builds the HTTP client for the hosts the operator configured (the PLC directory, a handle
/// PDS): redirects are followed (a few).
pub(crate) fn client(timeout: Duration) -> Result<Client, IdentityError> {
    builder(timeout)
        .redirect(redirect::Policy::limited(MAX_REDIRECTS))
        .build()
        .map_err(|e| IdentityError::Config(format!("HTTP client: {}", error_chain(&e))))
}

/// Builds the HTTP client for hosts named by the network (`did:web`, handles): no redirects,
/// and, unless `policy` allows a test network, connections only to public addresses (checked
/// on the resolved addresses, at connect time).
pub(crate) fn public_client(timeout: Duration, policy: NetworkPolicy) -> Result<Client, IdentityError> {
    let mut builder = builder(timeout).redirect(redirect::Policy::none());
    if !policy.allows_test_network() {
        builder = builder.dns_resolver(Arc::new(PublicDns));
    }
    builder.build().map_err(|e| IdentityError::Config(format!("HTTP client: {}", error_chain(&e))))
}

fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("plyr-atproto/", env!("CARGO_PKG_VERSION")))
}

/// GETs `url` and reads at most `limit` bytes of the body. The client's total timeout covers
/// the body as well; callers also bound the whole lookup with `tokio::time::timeout`.
pub(crate) async fn get_limited(client: &Client, url: &Url, limit: usize) -> Result<Fetched, IdentityError> {
    let transport = |e: reqwest::Error| {
        if e.is_timeout() {
            IdentityError::Timeout { url: url.to_string() }
        } else {
            IdentityError::Transport { url: url.to_string(), message: error_chain(&e.without_url()) }
        }
    };
    let mut response = client.get(url.clone()).send().await.map_err(transport)?;
    let status = response.status();
    if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
        return Ok(Fetched::NotFound);
    }
    if !status.is_success() {
        return Err(IdentityError::HttpStatus { url: url.to_string(), status: status.as_u16() });
    }
    let too_large = || IdentityError::BodyTooLarge { url: url.to_string(), limit };
    if response.content_length().is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched::Body(body))
}
