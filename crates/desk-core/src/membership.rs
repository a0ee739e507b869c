//! Who is who in a group: the customer's colleagues, the service team, and the members
//! the desk cannot place (with why). Pure rules: the caller hands in what it knows about
//! each member (their Lark tenant, the desk person bound to their open_id).

use crate::{Org, Person, PersonKind, Role};

/// Which part of a group's member list someone belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// One of the customer organisation's own people: a customer of the organisation, or
    /// a Lark user of the organisation's tenant.
    Colleague,
    /// Vendor staff, with their role.
    ServiceTeam(Role),
    /// The desk cannot tell; the reason says why (and what would fix it).
    Unknown(&'static str),
}

/// Bound to a customer of another organisation.
pub const OTHER_ORG: &str = "bound to a customer of another organisation";
/// A staff person without a role (the data is wrong; staff always have one).
pub const STAFF_WITHOUT_ROLE: &str = "bound to a staff member who has no role";
/// Not bound, and the organisation's tenant is unknown.
pub const NO_ORG_TENANT: &str =
    "not bound to a desk person, and the organisation has no Lark tenant key to recognise its people by";
/// Not bound, and Lark did not name their tenant.
pub const NO_TENANT: &str = "not bound to a desk person, and Lark did not say which tenant they belong to";
/// Not bound, and from another tenant than the organisation's.
pub const OTHER_TENANT: &str = "not bound to a desk person, and from another Lark tenant than the organisation's";

/// Places a member of one of `org`'s groups. A bound person decides (staff are the
/// service team, the organisation's customers are colleagues); someone unbound is a
/// colleague when Lark says they belong to the organisation's tenant.
pub fn place(org: &Org, tenant_key: Option<&str>, person: Option<&Person>) -> Placement {
    match person {
        Some(p) => match p.kind {
            PersonKind::Staff => p.role.map_or(Placement::Unknown(STAFF_WITHOUT_ROLE), Placement::ServiceTeam),
            PersonKind::Customer if p.org_id == Some(org.id) => Placement::Colleague,
            PersonKind::Customer => Placement::Unknown(OTHER_ORG),
        },
        None => match (org.lark_tenant_key.as_deref(), tenant_key) {
            (None, _) => Placement::Unknown(NO_ORG_TENANT),
            (Some(_), None) => Placement::Unknown(NO_TENANT),
            (Some(ours), Some(theirs)) if ours == theirs => Placement::Colleague,
            (Some(_), Some(_)) => Placement::Unknown(OTHER_TENANT),
        },
    }
}

/// Why a desk person cannot be added to one of an organisation's groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddRefusal {
    /// Deactivated people are not brought into groups.
    Inactive,
    /// They have no Lark open_id, so Lark cannot be asked to add them.
    NotBound,
    /// A customer of another organisation would see this organisation's conversation.
    OtherOrganisation,
}

/// Whether staff may bring `person` into one of `org`'s groups: active, bound to Lark,
/// and staff or the organisation's own customer.
pub fn check_addable(org: &Org, person: &Person) -> Result<(), AddRefusal> {
    if !person.active {
        return Err(AddRefusal::Inactive);
    }
    if person.kind == PersonKind::Customer && person.org_id != Some(org.id) {
        return Err(AddRefusal::OtherOrganisation);
    }
    if person.lark_open_id.is_none() {
        return Err(AddRefusal::NotBound);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::{Locale, OrgId, PersonId, SupportPlan};

    fn org(tenant: Option<&str>) -> Org {
        Org {
            id: OrgId::from_uuid(Uuid::from_u128(1)),
            name: "Acme".into(),
            lark_tenant_key: tenant.map(str::to_owned),
            support_plan: SupportPlan::Standard,
            main_chat_id: None,
            tam_id: None,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    fn person(kind: PersonKind, role: Option<Role>, org: Option<u128>) -> Person {
        Person {
            id: PersonId::from_uuid(Uuid::from_u128(9)),
            kind,
            role,
            org_id: org.map(|o| OrgId::from_uuid(Uuid::from_u128(o))),
            name: "Wang Fang".into(),
            email: None,
            mobile: None,
            lark_open_id: Some("ou_1".into()),
            lark_union_id: None,
            active: true,
            locale: Locale::En,
            time_zone: "UTC".into(),
            quiet_hours: None,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_bound_person_decides_whatever_the_tenant() {
        let acme = org(Some("t_acme"));
        let tam = person(PersonKind::Staff, Some(Role::Tam), None);
        assert_eq!(place(&acme, Some("t_vendor"), Some(&tam)), Placement::ServiceTeam(Role::Tam));
        let colleague = person(PersonKind::Customer, None, Some(1));
        assert_eq!(place(&acme, Some("t_other"), Some(&colleague)), Placement::Colleague);
        let stranger = person(PersonKind::Customer, None, Some(2));
        assert_eq!(place(&acme, Some("t_acme"), Some(&stranger)), Placement::Unknown(OTHER_ORG));
    }

    #[test]
    fn someone_unbound_is_a_colleague_only_in_the_organisations_tenant() {
        assert_eq!(place(&org(Some("t_acme")), Some("t_acme"), None), Placement::Colleague);
        assert_eq!(place(&org(Some("t_acme")), Some("t_vendor"), None), Placement::Unknown(OTHER_TENANT));
        assert_eq!(place(&org(Some("t_acme")), None, None), Placement::Unknown(NO_TENANT));
        assert_eq!(place(&org(None), Some("t_acme"), None), Placement::Unknown(NO_ORG_TENANT));
    }

    #[test]
    fn only_active_bound_staff_and_own_customers_may_be_added() {
        let acme = org(None);
        assert_eq!(check_addable(&acme, &person(PersonKind::Staff, Some(Role::Engineer), None)), Ok(()));
        assert_eq!(check_addable(&acme, &person(PersonKind::Customer, None, Some(1))), Ok(()));
        assert_eq!(
            check_addable(&acme, &person(PersonKind::Customer, None, Some(2))),
            Err(AddRefusal::OtherOrganisation)
        );
        let unbound = Person { lark_open_id: None, ..person(PersonKind::Customer, None, Some(1)) };
        assert_eq!(check_addable(&acme, &unbound), Err(AddRefusal::NotBound));
        let gone = Person { active: false, ..person(PersonKind::Staff, Some(Role::Tam), None) };
        assert_eq!(check_addable(&acme, &gone), Err(AddRefusal::Inactive));
    }
}
