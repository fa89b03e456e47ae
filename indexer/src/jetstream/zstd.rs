//! Jetstream v1 `compress=true` frames: each message is a zstd frame compressed with a pre-shared
//! dictionary. The bundled dictionary is prepared once per process and every message is
//! decompressed with it into one reused, bounded buffer (so a zip bomb is a counted drop).

use std::sync::OnceLock;

use ::zstd::bulk::Decompressor;
use ::zstd::dict::DecoderDictionary;

/// The dictionary Jetstream v1 compresses with (see `indexer/assets/README.md`).
pub const DICTIONARY: &[u8] = include_bytes!("../../assets/jetstream-zstd-dictionary");

/// Why a compressed frame was dropped.
#[derive(Debug, thiserror::Error)]
pub enum ZstdError {
    /// The bundled dictionary could not be prepared.
    #[error("cannot prepare the dictionary: {0}")]
    Dictionary(String),
    /// The frame declares (or produces) more than the bound.
    #[error("decompressed size exceeds {max} bytes")]
    TooLarge { max: usize },
    /// Not a zstd frame made with the dictionary.
    #[error("corrupt zstd frame: {0}")]
    Corrupt(std::io::Error),
}

static PREPARED: OnceLock<Result<DecoderDictionary<'static>, String>> = OnceLock::new();

/// The process-wide prepared dictionary.
fn prepared() -> Result<&'static DecoderDictionary<'static>, ZstdError> {
    PREPARED
        .get_or_init(|| DecoderDictionary::try_copy(DICTIONARY).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| ZstdError::Dictionary(e.clone()))
}

/// Decompresses Jetstream frames with the prepared dictionary, at most `max_output` bytes each.
pub struct FrameDecompressor {
    context: Decompressor<'static>,
    buffer: Vec<u8>,
    max_output: usize,
}

impl std::fmt::Debug for FrameDecompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameDecompressor").field("max_output", &self.max_output).finish_non_exhaustive()
    }
}

impl FrameDecompressor {
    /// A decompressor whose output is bounded by `max_output` bytes per frame.
    pub fn new(max_output: usize) -> Result<Self, ZstdError> {
        let context = Decompressor::with_prepared_dictionary(prepared()?)
            .map_err(|e| ZstdError::Dictionary(e.to_string()))?;
        Ok(Self { context, buffer: Vec::new(), max_output })
    }

    /// Decompresses one frame; the result lives until the next call.
    pub fn decompress(&mut self, frame: &[u8]) -> Result<&[u8], ZstdError> {
        let too_large = ZstdError::TooLarge { max: self.max_output };
        if ::zstd::zstd_safe::get_frame_content_size(frame)
            .ok()
            .flatten()
            .is_some_and(|declared| declared > self.max_output as u64)
        {
            return Err(too_large);
        }
        self.buffer.clear();
        // The Vec's capacity bounds the output; it is allocated once and then reused.
        self.buffer.reserve_exact(self.max_output);
        match self.context.decompress_to_buffer(frame, &mut self.buffer) {
            Ok(_) => Ok(&self.buffer),
            // zstd reports "Destination buffer is too small" for output past the bound.
            Err(e) if e.to_string().contains("too small") => Err(too_large),
            Err(e) => Err(ZstdError::Corrupt(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compress(data: &[u8]) -> Vec<u8> {
        ::zstd::bulk::Compressor::with_dictionary(3, DICTIONARY)
            .and_then(|mut c| c.compress(data))
            .expect("compress with the dictionary")
    }

    #[test]
    fn round_trips_and_bounds() {
        let mut d = FrameDecompressor::new(1024).expect("dictionary prepares");
        let event = br#"{"did":"did:plc:abc","time_us":1,"kind":"commit"}"#;
        for _ in 0..3 {
            assert_eq!(d.decompress(&compress(event)).expect("decompresses"), event);
        }
        assert!(matches!(d.decompress(&compress(&[b' '; 4096])), Err(ZstdError::TooLarge { max: 1024 })));
        assert!(matches!(d.decompress(b"garbage, not zstd"), Err(ZstdError::Corrupt(_))));
        // Still usable after errors.
        assert_eq!(d.decompress(&compress(event)).expect("decompresses"), event);
    }

    #[test]
    fn undeclared_sizes_are_bounded_too() {
        let mut encoder =
            ::zstd::stream::Encoder::with_dictionary(Vec::new(), 3, DICTIONARY).expect("encoder");
        encoder.include_contentsize(false).expect("no content size");
        std::io::Write::write_all(&mut encoder, &[b'x'; 8192]).expect("write");
        let frame = encoder.finish().expect("finish");
        let mut d = FrameDecompressor::new(1024).expect("dictionary prepares");
        assert!(matches!(d.decompress(&frame), Err(ZstdError::TooLarge { .. })));
    }
}
