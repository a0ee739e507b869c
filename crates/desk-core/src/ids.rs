//! Id newtypes. Each entity has its own id type so that swapped arguments are a
//! compile error, not a wrong row.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps a uuid read from storage or from a URL.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The inner uuid, for storage.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

id_type!(
    /// A customer organisation.
    OrgId
);
id_type!(
    /// A person: staff member or customer member.
    PersonId
);
id_type!(
    /// A support ticket.
    TicketId
);
id_type!(
    /// A comment on a ticket.
    CommentId
);
id_type!(
    /// One entry of a ticket's timeline.
    TimelineEntryId
);
id_type!(
    /// An API token (its metadata; the secret itself is never stored).
    TokenId
);
id_type!(
    /// An invite link to a group (its metadata; the token itself is never stored).
    InviteId
);
