//! Reassembly of data frames that Lark split into `sum` fragments (lark-spec.md §7.6).
//!
//! Pure: time comes in as `now`, so the tests need no clock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::frame::{Frame, header};

/// How long the fragments of an incomplete message are kept. Python and Go keep them 5 s,
/// Node 10 s; the longer one loses fewer messages on a slow link, and a message that takes
/// longer than Lark's 3-second ack window is re-delivered anyway.
pub(crate) const FRAGMENT_TTL: Duration = Duration::from_secs(10);

/// More fragments than this is not a real message: refuse it instead of allocating for it.
const MAX_FRAGMENTS: usize = 1024;

/// A complete message: the payload in `seq` order and the frame that completed it, whose
/// SeqID and headers the (single) ack must carry.
#[derive(Debug)]
pub(crate) struct Complete {
    pub(crate) payload: Vec<u8>,
    pub(crate) last: Frame,
}

/// What became of one data frame.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The message is complete.
    Complete(Complete),
    /// A fragment was stored; more are due.
    Pending,
    /// The headers make no sense (`seq` out of range, absurd `sum`); the frame is dropped.
    Invalid(&'static str),
}

#[derive(Debug)]
struct Partial {
    first_seen: Instant,
    parts: Vec<Option<Vec<u8>>>,
}

/// Fragments of the messages still incomplete, by `message_id`. One per connection:
/// fragments of a message all come over the connection that started it.
#[derive(Debug, Default)]
pub(crate) struct Reassembly {
    partial: HashMap<String, Partial>,
}

impl Reassembly {
    /// Takes one data frame. Unsplit messages (`sum` missing, `0` or `1`, as the Go SDK reads
    /// them) complete at once; a fragment completes its message when the last missing `seq`
    /// arrives, in any order. Expired partial messages are swept on every call, so the
    /// buffer stays bounded without a timer.
    pub(crate) fn accept(&mut self, mut frame: Frame, now: Instant) -> Outcome {
        self.partial.retain(|_, p| now.saturating_duration_since(p.first_seen) < FRAGMENT_TTL);

        let sum = match frame.header(header::SUM).map(str::parse::<usize>) {
            None => 1,
            Some(Ok(sum)) => sum.max(1),
            Some(Err(_)) => return Outcome::Invalid("sum is not a number"),
        };
        if sum == 1 {
            let payload = frame.payload.take().unwrap_or_default();
            return Outcome::Complete(Complete { payload, last: frame });
        }
        if sum > MAX_FRAGMENTS {
            return Outcome::Invalid("too many fragments");
        }
        let Some(Ok(seq)) = frame.header(header::SEQ).map(str::parse::<usize>) else {
            return Outcome::Invalid("fragment without a numeric seq");
        };
        if seq >= sum {
            return Outcome::Invalid("seq out of range");
        }
        let message_id = frame.header(header::MESSAGE_ID).unwrap_or_default().to_owned();

        let partial = self
            .partial
            .entry(message_id.clone())
            .or_insert_with(|| Partial { first_seen: now, parts: vec![None; sum] });
        if partial.parts.len() != sum {
            // The same id with a different count: start over with what this frame says.
            *partial = Partial { first_seen: now, parts: vec![None; sum] };
        }
        // A repeated seq overwrites: the newest copy wins, as in the SDKs.
        if let Some(slot) = partial.parts.get_mut(seq) {
            *slot = Some(frame.payload.take().unwrap_or_default());
        }
        if partial.parts.iter().any(Option::is_none) {
            return Outcome::Pending;
        }
        let parts = self.partial.remove(&message_id).map(|p| p.parts).unwrap_or_default();
        let payload = parts.into_iter().flatten().flatten().collect();
        Outcome::Complete(Complete { payload, last: frame })
    }

    /// How many messages are waiting for fragments.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.partial.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::frame::{Header, METHOD_DATA};
    use super::*;

    fn fragment(seq_id: u64, message_id: &str, sum: usize, seq: usize, payload: &str) -> Frame {
        Frame {
            seq_id,
            method: METHOD_DATA,
            headers: vec![
                Header::new("type", "event"),
                Header::new("message_id", message_id),
                Header::new("sum", sum.to_string()),
                Header::new("seq", seq.to_string()),
            ],
            payload: Some(payload.as_bytes().to_vec()),
            ..Frame::default()
        }
    }

    fn complete(outcome: Outcome) -> Complete {
        match outcome {
            Outcome::Complete(c) => c,
            other => panic!("expected a complete message, got {other:?}"),
        }
    }

    #[test]
    fn unsplit_message_completes_at_once() {
        let mut r = Reassembly::default();
        let c = complete(r.accept(fragment(1, "m", 1, 0, "{}"), Instant::now()));
        assert_eq!(c.payload, b"{}");
        assert_eq!(c.last.seq_id, 1);
    }

    #[test]
    fn missing_sum_is_one_fragment() {
        let mut r = Reassembly::default();
        let mut frame = fragment(1, "m", 1, 0, "x");
        frame.headers.retain(|h| h.key != "sum");
        assert_eq!(complete(r.accept(frame, Instant::now())).payload, b"x");
    }

    /// lark-spec.md's `ws_fragment_scenario`: seq 2, 0, 1 → one message, in seq order,
    /// carried by the fragment that arrived last (seq 1).
    #[test]
    fn out_of_order_fragments_reassemble_in_seq_order() {
        let mut r = Reassembly::default();
        let now = Instant::now();
        assert!(matches!(r.accept(fragment(12, "m-3", 3, 2, "C"), now), Outcome::Pending));
        assert!(matches!(r.accept(fragment(10, "m-3", 3, 0, "A"), now), Outcome::Pending));
        let c = complete(r.accept(fragment(11, "m-3", 3, 1, "B"), now));
        assert_eq!(c.payload, b"ABC");
        assert_eq!(c.last.seq_id, 11);
        assert_eq!(c.last.header("seq"), Some("1"));
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn interleaved_messages_stay_apart() {
        let mut r = Reassembly::default();
        let now = Instant::now();
        assert!(matches!(r.accept(fragment(1, "a", 2, 0, "a0"), now), Outcome::Pending));
        assert!(matches!(r.accept(fragment(2, "b", 2, 1, "b1"), now), Outcome::Pending));
        assert_eq!(complete(r.accept(fragment(3, "a", 2, 1, "a1"), now)).payload, b"a0a1");
        assert_eq!(complete(r.accept(fragment(4, "b", 2, 0, "b0"), now)).payload, b"b0b1");
    }

    #[test]
    fn incomplete_messages_expire() {
        let mut r = Reassembly::default();
        let start = Instant::now();
        assert!(matches!(r.accept(fragment(1, "old", 2, 0, "x"), start), Outcome::Pending));
        assert!(matches!(r.accept(fragment(2, "new", 2, 0, "y"), start + FRAGMENT_TTL), Outcome::Pending));
        assert_eq!(r.pending(), 1, "the expired message was swept");
        // Its late second half is now a fresh partial message, not a completion.
        assert!(matches!(r.accept(fragment(3, "old", 2, 1, "z"), start + FRAGMENT_TTL), Outcome::Pending));
    }

    #[test]
    fn nonsense_headers_are_refused() {
        let mut r = Reassembly::default();
        let now = Instant::now();
        assert!(matches!(r.accept(fragment(1, "m", 2, 2, "x"), now), Outcome::Invalid(_)));
        assert!(matches!(r.accept(fragment(1, "m", MAX_FRAGMENTS + 1, 0, "x"), now), Outcome::Invalid(_)));
        let mut frame = fragment(1, "m", 2, 0, "x");
        frame.headers.retain(|h| h.key != "seq");
        assert!(matches!(r.accept(frame, now), Outcome::Invalid(_)));
        assert_eq!(r.pending(), 0);
    }
}
