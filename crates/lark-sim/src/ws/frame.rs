//! `pbbp2.Frame` (spec §7.4), the one message every long-connection WebSocket frame carries, with a
//! hand-written proto2 codec: nine fields are not worth a build script, and an encoder of our own
//! keeps the simulator independent of the client's.

/// One long-connection frame. Fields 1–4 are `required` and always written; 6–9 only when set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) seq_id: u64,
    pub(crate) log_id: u64,
    pub(crate) service: i32,
    /// 0 = control (ping/pong), 1 = data (events and their acks).
    pub(crate) method: i32,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) payload_encoding: Option<String>,
    pub(crate) payload_type: Option<String>,
    pub(crate) payload: Option<Vec<u8>>,
    pub(crate) log_id_new: Option<String>,
}

/// A frame the peer sent that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError(&'static str);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad frame: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

pub(crate) const CONTROL: i32 = 0;
pub(crate) const DATA: i32 = 1;

const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const LEN: u64 = 2;
const FIXED32: u64 = 5;

impl Frame {
    /// The value of header `key`, if present.
    pub(crate) fn header(&self, key: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.payload.as_ref().map_or(0, Vec::len));
        put_key(&mut out, 1, VARINT);
        put_varint(&mut out, self.seq_id);
        put_key(&mut out, 2, VARINT);
        put_varint(&mut out, self.log_id);
        put_key(&mut out, 3, VARINT);
        put_int32(&mut out, self.service);
        put_key(&mut out, 4, VARINT);
        put_int32(&mut out, self.method);
        for (key, value) in &self.headers {
            let mut header = Vec::with_capacity(key.len() + value.len() + 4);
            put_bytes(&mut header, 1, key.as_bytes());
            put_bytes(&mut header, 2, value.as_bytes());
            put_bytes(&mut out, 5, &header);
        }
        if let Some(v) = &self.payload_encoding {
            put_bytes(&mut out, 6, v.as_bytes());
        }
        if let Some(v) = &self.payload_type {
            put_bytes(&mut out, 7, v.as_bytes());
        }
        if let Some(v) = &self.payload {
            put_bytes(&mut out, 8, v);
        }
        if let Some(v) = &self.log_id_new {
            put_bytes(&mut out, 9, v.as_bytes());
        }
        out
    }

    /// Parses a frame; unknown fields are skipped, as protobuf requires.
    pub(crate) fn decode(mut buf: &[u8]) -> Result<Self, DecodeError> {
        let mut frame = Self::default();
        let mut seen_required = [false; 4];
        while !buf.is_empty() {
            let key = take_varint(&mut buf)?;
            let (field, wire) = (key >> 3, key & 7);
            match (field, wire) {
                (1..=4, VARINT) => {
                    let v = take_varint(&mut buf)?;
                    match field {
                        1 => frame.seq_id = v,
                        2 => frame.log_id = v,
                        // int32 travels sign-extended to 64 bits; truncating gives the value back.
                        3 => frame.service = v as i32,
                        _ => frame.method = v as i32,
                    }
                    seen_required[(field - 1) as usize] = true;
                }
                (5, LEN) => frame.headers.push(decode_header(take_len(&mut buf)?)?),
                (6, LEN) => frame.payload_encoding = Some(utf8(take_len(&mut buf)?)?),
                (7, LEN) => frame.payload_type = Some(utf8(take_len(&mut buf)?)?),
                (8, LEN) => frame.payload = Some(take_len(&mut buf)?.to_vec()),
                (9, LEN) => frame.log_id_new = Some(utf8(take_len(&mut buf)?)?),
                (_, wire) => skip(&mut buf, wire)?,
            }
        }
        if seen_required.contains(&false) {
            return Err(DecodeError("a required field (SeqID, LogID, service, method) is missing"));
        }
        Ok(frame)
    }
}

fn decode_header(mut buf: &[u8]) -> Result<(String, String), DecodeError> {
    let (mut key, mut value) = (None, None);
    while !buf.is_empty() {
        let tag = take_varint(&mut buf)?;
        match (tag >> 3, tag & 7) {
            (1, LEN) => key = Some(utf8(take_len(&mut buf)?)?),
            (2, LEN) => value = Some(utf8(take_len(&mut buf)?)?),
            (_, wire) => skip(&mut buf, wire)?,
        }
    }
    match (key, value) {
        (Some(k), Some(v)) => Ok((k, v)),
        _ => Err(DecodeError("a header lacks its key or value")),
    }
}

fn put_key(out: &mut Vec<u8>, field: u64, wire: u64) {
    put_varint(out, (field << 3) | wire);
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Negative int32s are written as ten-byte varints of their 64-bit two's complement.
fn put_int32(out: &mut Vec<u8>, v: i32) {
    put_varint(out, i64::from(v) as u64);
}

fn put_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_key(out, field, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn take_varint(buf: &mut &[u8]) -> Result<u64, DecodeError> {
    let mut value = 0u64;
    for (i, byte) in buf.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *buf = &buf[i + 1..];
            return Ok(value);
        }
    }
    Err(DecodeError("truncated or overlong varint"))
}

fn take<'b>(buf: &mut &'b [u8], len: usize) -> Result<&'b [u8], DecodeError> {
    if buf.len() < len {
        return Err(DecodeError("field runs past the end"));
    }
    let (head, rest) = buf.split_at(len);
    *buf = rest;
    Ok(head)
}

fn take_len<'b>(buf: &mut &'b [u8]) -> Result<&'b [u8], DecodeError> {
    let len = usize::try_from(take_varint(buf)?).map_err(|_| DecodeError("length too large"))?;
    take(buf, len)
}

fn skip(buf: &mut &[u8], wire: u64) -> Result<(), DecodeError> {
    match wire {
        VARINT => take_varint(buf).map(drop),
        FIXED64 => take(buf, 8).map(drop),
        LEN => take_len(buf).map(drop),
        FIXED32 => take(buf, 4).map(drop),
        _ => Err(DecodeError("unsupported wire type")),
    }
}

fn utf8(bytes: &[u8]) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError("a string field is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn ws_frames() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../lark-notify/tests/vectors/lark-vectors.json");
        let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        all["ws_frames"].clone()
    }

    fn unhex(hex: &str) -> Vec<u8> {
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
    }

    fn bytes_of(name: &str) -> Vec<u8> {
        unhex(ws_frames()[name]["hex"].as_str().unwrap())
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn ping_decodes_as_documented_and_re_encodes_byte_identical() {
        let bytes = bytes_of("ping_client_to_server");
        let frame = Frame::decode(&bytes).unwrap();
        let expected =
            Frame { service: 33_554_678, method: CONTROL, headers: headers(&[("type", "ping")]), ..Frame::default() };
        assert_eq!(frame, expected);
        assert_eq!(expected.encode(), bytes);
    }

    #[test]
    fn pong_with_the_default_client_config_is_byte_identical() {
        let payload = serde_json::to_vec(&crate::config::ClientConfig::default()).unwrap();
        let pong = Frame {
            service: 33_554_678,
            method: CONTROL,
            headers: headers(&[("type", "pong")]),
            payload: Some(payload),
            ..Frame::default()
        };
        assert_eq!(pong.encode(), bytes_of("pong_server_to_client"));
    }

    #[test]
    fn event_frame_and_acks_round_trip() {
        let event = Frame::decode(&bytes_of("event_server_to_client")).unwrap();
        assert_eq!((event.seq_id, event.method, event.service), (7, DATA, 33_554_678));
        assert_eq!(event.header("message_id"), Some("m-1"));
        assert_eq!(
            (event.header("sum"), event.header("seq"), event.header("trace_id")),
            (Some("1"), Some("0"), Some("tr-1"))
        );
        let payload = ws_frames()["event_server_to_client"]["payload"].as_str().unwrap().as_bytes().to_vec();
        assert_eq!(event.payload.as_deref(), Some(payload.as_slice()));
        for name in ["event_server_to_client", "ack_client_to_server", "sdk_observed_ack"] {
            let bytes = bytes_of(name);
            assert_eq!(Frame::decode(&bytes).unwrap().encode(), bytes, "{name}");
        }
        let ack = Frame::decode(&bytes_of("sdk_observed_ack")).unwrap();
        assert_eq!(ack.header("biz_rt"), Some("1"));
        assert_eq!(ack.payload.as_deref(), Some(br#"{"code": 200}"#.as_slice()));
    }

    #[test]
    fn negative_int32_and_unknown_fields() {
        let frame = Frame { service: -2, method: DATA, log_id_new: Some("x".into()), ..Frame::default() };
        let mut bytes = frame.encode();
        bytes.extend_from_slice(&[0x50, 0x01]); // field 10, varint 1: unknown, skipped
        assert_eq!(Frame::decode(&bytes).unwrap(), frame);
        assert!(Frame::decode(&[0x08, 0x00]).is_err(), "required fields missing");
        assert!(Frame::decode(&[0x42, 0x05, 0x01]).is_err(), "truncated payload");
    }
}
