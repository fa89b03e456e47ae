//! `com.atproto.sync.subscribeRepos` messages as bytes (a DAG-CBOR header `{op: 1, t}` then a
//! DAG-CBOR body), the `#identity` and `#account` bodies, and the frames file `plyr-gen
//! firehose` writes: each message prefixed by its length as a 4-byte big-endian integer.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use ipld_core::ipld::Ipld;

use crate::GenError;

/// Largest message the frames file may hold (the sync 1.1 frame limit).
pub const MAX_FRAME_BYTES: usize = 5 * 1024 * 1024;

/// DAG-CBOR bytes of `value`.
pub fn cbor(value: &Ipld) -> Result<Vec<u8>, GenError> {
    serde_ipld_dagcbor::to_vec(value).map_err(|e| GenError::Repo(format!("encoding DAG-CBOR: {e}")))
}

/// An IPLD map from `(key, value)` pairs.
pub fn ipld_map<const N: usize>(entries: [(&str, Ipld); N]) -> Ipld {
    Ipld::Map(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<BTreeMap<_, _>>())
}

/// The message `{op: 1, t}` + `body`.
pub fn frame(t: &str, body: &Ipld) -> Result<Vec<u8>, GenError> {
    let mut out = cbor(&ipld_map([("op", Ipld::Integer(1)), ("t", Ipld::String(t.to_owned()))]))?;
    out.extend(cbor(body)?);
    Ok(out)
}

/// An `#identity` message.
pub fn identity(seq: i64, did: &str, handle: Option<&str>, time: &str) -> Result<Vec<u8>, GenError> {
    let mut body = BTreeMap::from([
        ("seq".to_owned(), Ipld::Integer(seq.into())),
        ("did".to_owned(), Ipld::String(did.to_owned())),
        ("time".to_owned(), Ipld::String(time.to_owned())),
    ]);
    if let Some(handle) = handle {
        body.insert("handle".to_owned(), Ipld::String(handle.to_owned()));
    }
    frame("#identity", &Ipld::Map(body))
}

/// An `#account` message.
pub fn account(
    seq: i64,
    did: &str,
    active: bool,
    status: Option<&str>,
    time: &str,
) -> Result<Vec<u8>, GenError> {
    let mut body = BTreeMap::from([
        ("seq".to_owned(), Ipld::Integer(seq.into())),
        ("did".to_owned(), Ipld::String(did.to_owned())),
        ("active".to_owned(), Ipld::Bool(active)),
        ("time".to_owned(), Ipld::String(time.to_owned())),
    ]);
    if let Some(status) = status {
        body.insert("status".to_owned(), Ipld::String(status.to_owned()));
    }
    frame("#account", &Ipld::Map(body))
}

/// Appends one message to a frames file.
pub fn write_frame(out: &mut impl Write, message: &[u8]) -> Result<(), GenError> {
    let len = u32::try_from(message.len()).map_err(|_| GenError::Internal("message over 4 GiB"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(message)?;
    Ok(())
}

/// Every message of a frames file, in order.
pub fn read_frames(mut input: impl Read) -> Result<Vec<Vec<u8>>, GenError> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes)?;
    split_frames(&bytes)
}

/// The messages of a frames file's bytes.
pub fn split_frames(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, GenError> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes.split_first_chunk::<4>().ok_or(GenError::Frames("truncated length"))?;
        let len = u32::from_be_bytes(*len) as usize;
        if len > MAX_FRAME_BYTES {
            return Err(GenError::Frames("a message is larger than 5 MiB"));
        }
        let (message, rest) = rest.split_at_checked(len).ok_or(GenError::Frames("truncated message"))?;
        frames.push(message.to_vec());
        bytes = rest;
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut file = Vec::new();
        let messages = [b"abc".to_vec(), Vec::new(), vec![7; 300]];
        for m in &messages {
            write_frame(&mut file, m).expect("write");
        }
        assert_eq!(split_frames(&file).expect("read"), messages);
        assert!(split_frames(&file[..file.len() - 1]).is_err());
        assert!(split_frames(&[0, 0]).is_err());
    }
}
