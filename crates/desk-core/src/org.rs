//! Customer organisations.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DomainError, OrgId, PersonId, Validation};

/// The support contract an organisation bought; later issues hang response targets on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupportPlan {
    /// Business hours, standard targets.
    Standard,
    /// Faster targets.
    Premium,
    /// Fastest targets, around the clock.
    Enterprise,
}

impl SupportPlan {
    /// Every plan.
    pub const ALL: [Self; 3] = [Self::Standard, Self::Premium, Self::Enterprise];

    /// Stable name for the API and the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Premium => "premium",
            Self::Enterprise => "enterprise",
        }
    }
}

impl fmt::Display for SupportPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SupportPlan {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| DomainError::invalid("support_plan", "must be one of standard, premium, enterprise"))
    }
}

/// A customer organisation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// Its id.
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// The customer's Lark tenant, once known.
    pub lark_tenant_key: Option<String>,
    /// The support contract.
    pub support_plan: SupportPlan,
    /// The main service group's Lark chat id, once created or bound.
    pub main_chat_id: Option<String>,
    /// The organisation's Technical Account Manager.
    pub tam_id: Option<PersonId>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Maximum length of names and titles, in characters.
pub(crate) const NAME_MAX: usize = 200;
/// Maximum length of Lark identifiers we store (open ids, chat ids, tenant keys).
pub(crate) const LARK_ID_MAX: usize = 128;

/// A checked request to create an organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrg {
    /// Display name.
    pub name: String,
    /// Lark tenant key.
    pub lark_tenant_key: Option<String>,
    /// Support plan.
    pub support_plan: SupportPlan,
    /// Main group chat id.
    pub main_chat_id: Option<String>,
    /// The TAM (must be a staff member; checked by the store).
    pub tam_id: Option<PersonId>,
}

impl NewOrg {
    /// Checks raw input.
    pub fn parse(
        name: &str,
        lark_tenant_key: Option<&str>,
        support_plan: Option<&str>,
        main_chat_id: Option<&str>,
        tam_id: Option<PersonId>,
    ) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let name = v.required_line("name", name, NAME_MAX);
        let lark_tenant_key = v.optional_line("lark_tenant_key", lark_tenant_key, LARK_ID_MAX);
        let main_chat_id = v.optional_line("main_chat_id", main_chat_id, LARK_ID_MAX);
        let support_plan = v
            .choice::<SupportPlan>("support_plan", support_plan, "must be one of standard, premium, enterprise")
            .unwrap_or(SupportPlan::Standard);
        v.finish(Self { name, lark_tenant_key, support_plan, main_chat_id, tam_id })
    }
}

/// A checked partial update of an organisation. `Some(None)` clears a field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgPatch {
    /// New name.
    pub name: Option<String>,
    /// New or cleared tenant key.
    pub lark_tenant_key: Option<Option<String>>,
    /// New plan.
    pub support_plan: Option<SupportPlan>,
    /// New or cleared main chat.
    pub main_chat_id: Option<Option<String>>,
    /// New or cleared TAM.
    pub tam_id: Option<Option<PersonId>>,
}

impl OrgPatch {
    /// Checks raw input; each argument is `None` when the client left the field out.
    pub fn parse(
        name: Option<&str>,
        lark_tenant_key: Option<Option<&str>>,
        support_plan: Option<&str>,
        main_chat_id: Option<Option<&str>>,
        tam_id: Option<Option<PersonId>>,
    ) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let name = name.map(|n| v.required_line("name", n, NAME_MAX));
        let lark_tenant_key = lark_tenant_key.map(|k| v.optional_line("lark_tenant_key", k, LARK_ID_MAX));
        let main_chat_id = main_chat_id.map(|k| v.optional_line("main_chat_id", k, LARK_ID_MAX));
        let support_plan =
            v.choice::<SupportPlan>("support_plan", support_plan, "must be one of standard, premium, enterprise");
        let patch = Self { name, lark_tenant_key, support_plan, main_chat_id, tam_id };
        if patch == Self::default() {
            v.fail("", "name at least one field to change");
        }
        v.finish(patch)
    }
}
