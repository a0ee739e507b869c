//! External groups, and Lark's refusals in words an admin can act on.
//!
//! Lark calls a chat *external* when it holds people of more than one tenant, and only an
//! app with the external-sharing capability may make one (lark-spec.md §3.1: `external`,
//! and 232033 when it may not). Whether a group is external is decided here from what the
//! desk knows, as pure functions:
//!
//! - vendor staff are in the vendor's tenant;
//! - the `default` integration is the vendor's own app, in the vendor's tenant; an
//!   organisation's own integration is an app in that organisation's tenant;
//! - a customer is in their organisation's tenant. With the vendor's app, a customer whose
//!   organisation has no `lark_tenant_key` is taken to share the app's tenant (a
//!   single-tenant deployment, where everyone is in one Lark); one with a tenant key is in
//!   that other tenant.
//!
//! A group is external when anyone in it is in another tenant than the app's.

use desk_core::{Org, OrgId, Person, PersonKind};
use desk_store::EXTERNAL_CHAT_DISABLED;
use lark_notify::LarkError;

/// The Lark tenant someone (or an app) is in, as far as the desk can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tenant {
    /// The vendor's own tenant: its staff and its `default` app.
    Vendor,
    /// A customer organisation's tenant.
    Org(OrgId),
}

/// The tenant of the app of an integration that belongs to `app_org` (`None`: the vendor's
/// `default` app).
pub fn app_tenant(app_org: Option<OrgId>) -> Tenant {
    app_org.map_or(Tenant::Vendor, Tenant::Org)
}

/// The tenant of `person` in a group of `org` made by an app in `app`.
pub fn tenant_of(person: &Person, org: &Org, app: Tenant) -> Tenant {
    match (person.kind, person.org_id) {
        (PersonKind::Staff, _) | (PersonKind::Customer, None) => Tenant::Vendor,
        (PersonKind::Customer, Some(o)) if app == Tenant::Org(o) => app,
        // A customer of the group's organisation: in its own tenant when it has one.
        (PersonKind::Customer, Some(o)) if o == org.id && org.lark_tenant_key.is_none() => app,
        (PersonKind::Customer, Some(o)) => Tenant::Org(o),
    }
}

/// Whether a group of `tenants` made by an app in `app` is an external group.
pub fn is_external(app: Tenant, tenants: impl IntoIterator<Item = Tenant>) -> bool {
    tenants.into_iter().any(|t| t != app)
}

/// A refusal explained: a stable code and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Stable snake_case code (`lark_external_chat_disabled`, …).
    pub code: &'static str,
    /// What happened and what to change, for an admin.
    pub message: String,
}

/// Every code [`explain`] and the group manager record on a group.
pub const CODES: &[&str] = &[
    EXTERNAL_CHAT_DISABLED,
    "lark_bot_disabled",
    "lark_app_not_installed",
    "lark_no_visibility",
    "lark_scope_missing",
    "lark_chat_full",
    "lark_chat_gone",
    "lark_bot_not_in_chat",
    "lark_unavailable",
    "lark_refused",
];

/// The stable code named `code`, if it is one of [`CODES`] (else `lark_refused`).
pub fn known_code(code: &str) -> &'static str {
    CODES.iter().find(|c| **c == code).copied().unwrap_or("lark_refused")
}

/// Lark codes that mean "one of these user ids is of no use to this app" (§3.1, §3.3).
pub(crate) const UNUSABLE_IDS: &[i64] = &[232_043, 232_030, 232_027, 99_992_351, 99_992_360, 99_992_364];

/// Explains why Lark refused to make or change a group of app `app_id`; `external` says
/// whether the group mixes tenants. `None` when there is nothing more precise to say than
/// Lark's own words.
pub fn explain(e: &LarkError, app_id: &str, external: bool) -> Option<Refusal> {
    let (code, message) = match e.code()? {
        232_033 => (
            EXTERNAL_CHAT_DISABLED,
            format!(
                "this group holds people of two Lark tenants (an external group: the vendor's staff and the \
                 customer's people), and Lark refuses external groups for the app {app_id} because its external \
                 sharing is off. In the Lark developer console open the app, turn on external sharing \
                 (\"Share with external users\", 对外共享) under Version Management & Release, publish the new \
                 version and have the tenant admin approve it; then retry the group"
            ),
        ),
        232_028 => (
            EXTERNAL_CHAT_DISABLED,
            format!(
                "someone being added belongs to another Lark tenant, and this group was made as an internal \
                 group{}; turn on external sharing for the app {app_id} in the Lark developer console \
                 (Version Management & Release), publish it, and retry",
                if external { "" } else { " (nobody of another tenant was in it when it was made)" }
            ),
        ),
        232_025 => (
            "lark_bot_disabled",
            format!(
                "the app {app_id} has no bot: enable the Bot feature (Features → Bot) in the Lark developer console \
                 and publish a new version"
            ),
        ),
        232_034 | 99_991_662 | 99_991_673 => (
            "lark_app_not_installed",
            format!("the app {app_id} is not installed or not available in this tenant: publish it and install it"),
        ),
        232_024 => (
            "lark_no_visibility",
            format!(
                "the app {app_id} cannot see some of these people: widen its availability (Version Management & \
                 Release → Availability) to include them and publish"
            ),
        ),
        99_991_672 | 99_991_676 => (
            "lark_scope_missing",
            format!(
                "the app {app_id} lacks the scope to manage groups: add im:chat under Permissions & Scopes in the \
                 Lark developer console and publish a new version"
            ),
        ),
        232_013 => ("lark_chat_full", "the Lark group is full".to_owned()),
        232_009 | 232_006 => ("lark_chat_gone", "the Lark group no longer exists (it was disbanded)".to_owned()),
        232_011 => (
            "lark_bot_not_in_chat",
            "the bot is not in this Lark group: add the app's bot to the group, then retry".to_owned(),
        ),
        _ => return None,
    };
    Some(Refusal { code, message })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use desk_core::{Locale, PersonId, Role, SupportPlan};

    use super::*;

    fn org(tenant_key: Option<&str>) -> Org {
        Org {
            id: OrgId::from_uuid(uuid::Uuid::new_v4()),
            name: "Acme".into(),
            lark_tenant_key: tenant_key.map(str::to_owned),
            support_plan: SupportPlan::Premium,
            main_chat_id: None,
            tam_id: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn person(kind: PersonKind, org: Option<OrgId>) -> Person {
        Person {
            id: PersonId::from_uuid(uuid::Uuid::new_v4()),
            kind,
            role: (kind == PersonKind::Staff).then_some(Role::Tam),
            org_id: org,
            name: "P".into(),
            email: None,
            mobile: None,
            lark_open_id: Some("ou_x".into()),
            lark_union_id: None,
            active: true,
            locale: Locale::En,
            time_zone: "UTC".into(),
            quiet_hours: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn external(app_org: Option<OrgId>, org: &Org, people: &[Person]) -> bool {
        let app = app_tenant(app_org);
        is_external(app, people.iter().map(|p| tenant_of(p, org, app)))
    }

    #[test]
    fn with_the_vendors_app_a_customer_of_an_org_without_a_tenant_key_is_in_the_same_lark() {
        let acme = org(None);
        let people = [person(PersonKind::Staff, None), person(PersonKind::Customer, Some(acme.id))];
        assert!(!external(None, &acme, &people));
    }

    #[test]
    fn with_the_vendors_app_a_customer_of_another_tenant_makes_the_group_external() {
        let acme = org(Some("t-acme"));
        let people = [person(PersonKind::Staff, None), person(PersonKind::Customer, Some(acme.id))];
        assert!(external(None, &acme, &people));
        assert!(!external(None, &acme, &people[..1]), "staff alone stay inside the vendor's tenant");
    }

    #[test]
    fn with_the_customers_own_app_staff_are_the_outsiders() {
        let acme = org(None);
        let customer = person(PersonKind::Customer, Some(acme.id));
        assert!(!external(Some(acme.id), &acme, std::slice::from_ref(&customer)));
        assert!(external(Some(acme.id), &acme, &[customer, person(PersonKind::Staff, None)]));
    }

    #[test]
    fn the_missing_external_capability_is_explained_not_coded() {
        let e = LarkError::Api { status: 400, code: 232_033, msg: "external chat not allowed".into(), log_id: None };
        let r = explain(&e, "cli_a1b2c3d4e5f60718", true).unwrap();
        assert_eq!(r.code, EXTERNAL_CHAT_DISABLED);
        assert!(r.message.contains("external sharing") && r.message.contains("cli_a1b2c3d4e5f60718"));
        assert!(!r.message.contains("232033"));
        assert_eq!(explain(&LarkError::Timeout, "cli_x", true), None);
    }
}
