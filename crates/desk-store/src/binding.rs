//! Binding desk people to Lark users: who can be bound, who shares their e-mail or
//! mobile, who holds an open_id already, and the binding itself, all at once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use desk_core::{Person, PersonId};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entity::person;
use crate::members::bound_to;
use crate::{Store, StoreError, people};

/// Most ids per `IN (…)` list: well inside every database's bound-parameter limit.
const IN_CHUNK: usize = 500;

fn to_people(rows: Vec<person::Model>) -> Result<Vec<Person>, StoreError> {
    rows.into_iter().map(people::to_domain).collect()
}

impl Store {
    /// Everyone who could be bound automatically: active, not bound to Lark, with an
    /// e-mail or a mobile to match by. Oldest first.
    pub async fn unbound_people(&self) -> Result<Vec<Person>, StoreError> {
        let rows = person::Entity::find()
            .filter(person::Column::Active.eq(true))
            .filter(person::Column::LarkOpenId.is_null())
            .filter(Condition::any().add(person::Column::Email.is_not_null()).add(person::Column::Mobile.is_not_null()))
            .order_by_asc(person::Column::Id)
            .all(self.conn())
            .await?;
        to_people(rows)
    }

    /// These people, by id (ids that name nobody are left out).
    pub async fn people_by_ids(&self, ids: &[PersonId]) -> Result<HashMap<PersonId, Person>, StoreError> {
        let mut found = HashMap::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let rows = person::Entity::find()
                .filter(person::Column::Id.is_in(chunk.iter().map(PersonId::as_uuid)))
                .all(self.conn())
                .await?;
            found.extend(to_people(rows)?.into_iter().map(|p| (p.id, p)));
        }
        Ok(found)
    }

    /// Everyone, active or not, whose e-mail is one of `emails` or whose mobile is one of
    /// `mobiles`: two people with one key make that key useless for matching.
    pub async fn people_with_contacts(&self, emails: &[String], mobiles: &[String]) -> Result<Vec<Person>, StoreError> {
        let mut found: HashMap<PersonId, Person> = HashMap::new();
        for chunk in emails.chunks(IN_CHUNK) {
            let rows =
                person::Entity::find().filter(person::Column::Email.is_in(chunk.to_vec())).all(self.conn()).await?;
            found.extend(to_people(rows)?.into_iter().map(|p| (p.id, p)));
        }
        for chunk in mobiles.chunks(IN_CHUNK) {
            let rows =
                person::Entity::find().filter(person::Column::Mobile.is_in(chunk.to_vec())).all(self.conn()).await?;
            found.extend(to_people(rows)?.into_iter().map(|p| (p.id, p)));
        }
        let mut found: Vec<Person> = found.into_values().collect();
        found.sort_by_key(|p| p.id);
        Ok(found)
    }

    /// The people bound to `open_ids`, by open_id.
    pub async fn people_bound_to(&self, open_ids: &[String]) -> Result<HashMap<String, PersonId>, StoreError> {
        Ok(bound_to(self.conn(), open_ids).await?.into_iter().map(|(open_id, p)| (open_id, p.id)).collect())
    }

    /// Binds each person to their open_id, all in one transaction. Only people still
    /// unbound are bound: the ones someone bound meanwhile are left alone and returned.
    /// An open_id someone else took meanwhile refuses the whole binding
    /// (`lark_open_id_taken`), so nothing is half done.
    pub async fn bind_people(
        &self,
        pairs: &[(PersonId, String)],
        now: DateTime<Utc>,
    ) -> Result<Vec<PersonId>, StoreError> {
        let tx = self.write().await?;
        let mut skipped = Vec::new();
        for (id, open_id) in pairs {
            let changed = person::Entity::update_many()
                .col_expr(person::Column::LarkOpenId, Expr::value(open_id.clone()))
                .col_expr(person::Column::UpdatedAt, Expr::value(now))
                .filter(person::Column::Id.eq(id.as_uuid()))
                .filter(person::Column::LarkOpenId.is_null())
                .exec(&*tx)
                .await
                .map_err(|e| {
                    StoreError::on_unique(
                        e,
                        "lark_open_id_taken",
                        format!("Lark user {open_id} was bound to another person meanwhile; nothing was bound"),
                    )
                })?
                .rows_affected;
            if changed == 0 {
                skipped.push(*id);
            }
        }
        tx.commit().await?;
        Ok(skipped)
    }
}
