//! gzip for the JSON answers: each whole body compressed in one call, at the fastest level, with
//! a deflate state kept per worker thread and reset between answers. A per-answer compressor (as
//! tower-http's layer builds) spent a quarter of the CPU of an uncached feed page, half of it
//! allocating and zeroing its ~300 KiB state. Only bodies that are JSON or text and at least
//! [`MIN_BYTES`] long are compressed; anything already encoded passes untouched. Whether a client
//! accepts gzip ([`accepts`]) is also the response cache's key.

use std::cell::RefCell;

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Bodies shorter than this are sent as they are: gzip's framing would eat most of the saving.
pub const MIN_BYTES: usize = 1024;

/// Largest body compressed; every answer built here is far smaller.
const MAX_BYTES: usize = 16 << 20;

/// Whether `headers` accept a gzip answer: `gzip` (or `x-gzip`, or `*` when gzip is not named)
/// with a non-zero `q`.
pub fn accepts(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(ACCEPT_ENCODING).and_then(|v| v.to_str().ok()) else { return false };
    let mut star = None;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            return q > 0.0;
        }
        if coding == "*" {
            star = Some(q > 0.0);
        }
    }
    star.unwrap_or(false)
}

fn compressible(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let ct = ct.trim_start().to_ascii_lowercase();
    ct.starts_with("application/json") || ct.starts_with("text/") || ct.contains("+json")
}

/// The middleware.
pub async fn layer(req: Request, next: Next) -> Response {
    let gzip = accepts(req.headers());
    let res = next.run(req).await;
    if !compressible(res.headers()) || res.headers().contains_key(CONTENT_ENCODING) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    parts.headers.append(VARY, HeaderValue::from_static("accept-encoding"));
    if !gzip {
        return Response::from_parts(parts, body);
    }
    let bytes = match to_bytes(body, MAX_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            // The handler's body failed while being read: nothing sensible can follow its head.
            tracing::warn!(error = %e, "answer body unreadable; sending it empty");
            return Response::from_parts(parts, Body::empty());
        }
    };
    if bytes.len() < MIN_BYTES {
        return Response::from_parts(parts, Body::from(bytes));
    }
    match compress(&bytes) {
        Some(gz) => {
            parts.headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(gz.len()));
            Response::from_parts(parts, Body::from(gz))
        }
        None => Response::from_parts(parts, Body::from(bytes)),
    }
}

thread_local! {
    /// This worker thread's deflate state (raw deflate: the gzip framing is written here).
    static DEFLATE: RefCell<Option<Compress>> = const { RefCell::new(None) };
}

/// `data` as one gzip member, or `None` if deflate failed (then it is sent uncompressed).
pub fn compress(data: &[u8]) -> Option<Vec<u8>> {
    // Header: magic, deflate, no flags, no mtime, "fastest" (XFL 4), unknown OS.
    let mut out = Vec::with_capacity(data.len() / 3 + 64);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff]);
    let deflated = DEFLATE.with(|slot| {
        let mut slot = slot.borrow_mut();
        let z = slot.get_or_insert_with(|| Compress::new(Compression::fast(), false));
        z.reset();
        deflate(z, data, &mut out)
    });
    if !deflated {
        return None;
    }
    let mut crc = Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE is the length modulo 2^32.
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    Some(out)
}

/// Deflates all of `data` onto `out`; whether the stream ended cleanly.
fn deflate(z: &mut Compress, data: &[u8], out: &mut Vec<u8>) -> bool {
    let start_in = z.total_in();
    loop {
        let consumed = usize::try_from(z.total_in() - start_in).unwrap_or(usize::MAX);
        let Some(rest) = data.get(consumed..) else { return false };
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(4096));
        }
        match z.compress_vec(rest, out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => return true,
            Ok(Status::Ok | Status::BufError) => {}
            Err(e) => {
                tracing::warn!(error = %e, "deflate failed; sending the answer uncompressed");
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn headers(accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_ENCODING, HeaderValue::from_str(accept).expect("header"));
        h
    }

    #[test]
    fn gzip_is_accepted_only_when_named_or_starred_with_a_positive_q() {
        for (value, gzip) in [
            ("gzip", true),
            ("gzip, deflate, br", true),
            ("br;q=1.0, gzip;q=0.8", true),
            ("GZIP", true),
            ("x-gzip", true),
            ("gzip;q=0", false),
            ("gzip; q=0.0, *", false),
            ("*", true),
            ("*;q=0", false),
            ("br, deflate", false),
            ("identity", false),
            ("", false),
            ("gzipx", false),
        ] {
            assert_eq!(accepts(&headers(value)), gzip, "{value:?}");
        }
        assert!(!accepts(&HeaderMap::new()));
    }

    #[test]
    fn what_is_compressed_decompresses_to_the_same_bytes_however_often_the_state_is_reused() {
        let bodies: Vec<Vec<u8>> = vec![
            br#"{"tracks":[]}"#.repeat(200),
            (0..200_000u32).flat_map(|i| (i.wrapping_mul(2_654_435_761) >> 13).to_le_bytes()).collect(),
            b"x".to_vec(),
            Vec::new(),
        ];
        for _ in 0..3 {
            for body in &bodies {
                let gz = compress(body).expect("compressed");
                let mut back = Vec::new();
                flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut back).expect("a valid gzip member");
                assert_eq!(&back, body);
            }
        }
        assert!(compress(&bodies[0]).expect("compressed").len() < bodies[0].len() / 10);
    }
}
