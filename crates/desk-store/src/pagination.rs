//! Opaque keyset cursors. A cursor names the list it belongs to and the last row's
//! sort key, so walking pages while rows are added returns every existing row once:
//! no offsets, nothing shifts.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where a page ends: the list it belongs to and the last row's sort key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Which list and order (`tickets:newest`); a cursor from another list is refused.
    #[serde(rename = "s")]
    pub scope: String,
    /// Last row's id (the tie-breaker of every order).
    pub id: Uuid,
    /// Last row's timestamp, for orders by time.
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

/// Why a cursor string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// Not something this server issued.
    #[error("is not a cursor this server issued")]
    Malformed,
    /// Issued for another list or order.
    #[error("belongs to a different list or order; start again without a cursor")]
    WrongList,
}

impl Cursor {
    /// The opaque form handed to clients.
    pub fn encode(&self) -> String {
        // Serialising a struct of strings, a uuid and a timestamp cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Reads a client's cursor for the list `scope`.
    pub fn decode(raw: &str, scope: &str) -> Result<Self, CursorError> {
        let bytes = URL_SAFE_NO_PAD.decode(raw.as_bytes()).map_err(|_| CursorError::Malformed)?;
        let cursor: Self = serde_json::from_slice(&bytes).map_err(|_| CursorError::Malformed)?;
        if cursor.scope == scope { Ok(cursor) } else { Err(CursorError::WrongList) }
    }
}

/// Which page to read.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// Rows per page (1..=200).
    pub limit: u64,
    /// Where the previous page ended.
    pub after: Option<Cursor>,
}

/// The query for a page of a list ordered by id alone, oldest first: the rows of `query`
/// after the cursor, `limit + 1` of them (the extra one says there is more; see
/// [`Page::by_id`]).
pub(crate) fn oldest_first<E: EntityTrait>(query: Select<E>, id: E::Column, page: &PageRequest) -> Select<E> {
    let query = match &page.after {
        Some(after) => query.filter(id.gt(after.id)),
        None => query,
    };
    query.order_by(id, Order::Asc).limit(page.limit + 1)
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Pass back to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only says there is more.
    pub(crate) fn from_rows(mut rows: Vec<T>, limit: u64, cursor_of: impl Fn(&T) -> Cursor) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more { rows.last().map(|r| cursor_of(r).encode()) } else { None };
        Self { items: rows, next_cursor }
    }

    /// Builds a page of rows ordered by id alone (most lists) and converts each row.
    pub(crate) fn by_id<M, E>(
        rows: Vec<M>,
        page: &PageRequest,
        scope: &str,
        id_of: impl Fn(&M) -> Uuid,
        convert: impl FnMut(M) -> Result<T, E>,
    ) -> Result<Self, E> {
        let rows = Page::from_rows(rows, page.limit, |m| Cursor { scope: scope.to_owned(), id: id_of(m), at: None });
        let items = rows.items.into_iter().map(convert).collect::<Result<_, _>>()?;
        Ok(Self { items, next_cursor: rows.next_cursor })
    }

    /// Converts the rows, keeping the cursor.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_other_lists_and_junk() {
        let c = Cursor { scope: "tickets:newest".into(), id: Uuid::now_v7(), at: Some(Utc::now()) };
        let raw = c.encode();
        assert_eq!(Cursor::decode(&raw, "tickets:newest").unwrap(), c);
        assert_eq!(Cursor::decode(&raw, "orgs:newest"), Err(CursorError::WrongList));
        assert_eq!(Cursor::decode("not a cursor", "tickets:newest"), Err(CursorError::Malformed));
        assert_eq!(Cursor::decode("e30", "tickets:newest"), Err(CursorError::Malformed));
    }
}
