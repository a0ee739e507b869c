//! Lists: filters, and cursors that stay stable while rows are added.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{Db, TestApp};

on_both_databases!(walking_every_page_while_inserting_returns_every_row_once, filters_narrow_the_list);

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect()
}

async fn walking_every_page_while_inserting_returns_every_row_once(db: Db) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Soylent").await;
    let mut existing = HashSet::new();
    for i in 0..120 {
        existing.insert(app.ticket(&app.admin, &org, &format!("ticket {i}")).await["id"].as_str().unwrap().to_owned());
    }
    for order in ["newest", "oldest", "updated"] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/tickets?order={order}&limit=25&cursor={c}"),
                None => format!("/api/v1/tickets?order={order}&limit=25"),
            };
            let page = app.get(&path, &app.admin).await.expect(200);
            seen.extend(ids(page["items"].as_array().unwrap()));
            pages += 1;
            // Rows arrive between pages, as they would on a busy desk.
            for i in 0..5 {
                app.ticket(&app.admin, &org, &format!("arrived during {order} walk, page {pages}, #{i}")).await;
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
            assert!(pages < 100, "the walk never ends");
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{order}: a row came back twice");
        for id in &existing {
            assert!(unique.contains(id), "{order}: ticket {id} was skipped");
        }
        if order == "newest" {
            // Newest first: the walk is exactly the rows that existed when it began.
            assert_eq!(seen.len(), existing.len());
        }
        let all = app.walk("/api/v1/tickets?limit=200").await;
        existing = ids(&all).into_iter().collect();
    }
}

async fn filters_narrow_the_list(db: Db) {
    let app = TestApp::spawn(db).await;
    let a = &app.admin;
    let acme = app.org("Acme").await;
    let globex = app.org("Globex").await;
    let engineer = app.staff("Dana", "engineer").await;
    let requester = app.customer(&acme, "Wile E.").await;

    let t1 = app.post("/api/v1/tickets", a, json!({ "org_id": acme["id"], "title": "Rocket skates overheat", "severity": "P1", "requester_id": requester["id"] })).await.expect(201);
    let t2 = app.post("/api/v1/tickets", a, json!({ "org_id": acme["id"], "title": "Anvil delivery late", "severity": "P3", "assignee_id": engineer["id"] })).await.expect(201);
    let t3 = app
        .post(
            "/api/v1/tickets",
            a,
            json!({ "org_id": globex["id"], "title": "ROCKET fuel 100%_pure?", "severity": "P2" }),
        )
        .await
        .expect(201);
    let id = |t: &Value| t["id"].as_str().unwrap().to_owned();
    app.post(&format!("/api/v1/tickets/{}/transition", id(&t2)), a, json!({ "to": "in_progress" })).await.expect(200);

    let list = |q: &str| {
        let q = q.to_owned();
        let app = &app;
        async move {
            let mut got = ids(&app.walk(&format!("/api/v1/tickets?{q}")).await);
            got.sort();
            got
        }
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(list(&format!("org_id={}", id(&acme))).await, sorted(vec![id(&t1), id(&t2)]));
    assert_eq!(list("status=in_progress").await, vec![id(&t2)]);
    assert_eq!(list("status=open,in_progress").await, sorted(vec![id(&t1), id(&t2), id(&t3)]));
    assert_eq!(list("severity=P1,P2").await, sorted(vec![id(&t1), id(&t3)]));
    assert_eq!(list(&format!("assignee={}", id(&engineer))).await, vec![id(&t2)]);
    assert_eq!(list("assignee=none").await, sorted(vec![id(&t1), id(&t3)]));
    assert_eq!(list(&format!("requester_id={}", id(&requester))).await, vec![id(&t1)]);
    assert_eq!(list("q=rocket").await, sorted(vec![id(&t1), id(&t3)]));
    // Wildcards in the search text are literal characters: `%` and `_` match only
    // themselves (as wildcards, "0%p" and "1_0" would both match "100%_pure").
    assert_eq!(list("q=100%25_").await, vec![id(&t3)]);
    assert_eq!(list("q=%25").await, vec![id(&t3)]);
    assert_eq!(list("q=0%25p").await, Vec::<String>::new());
    assert_eq!(list("q=1_0").await, Vec::<String>::new());
    assert_eq!(list("emergency=true").await, Vec::<String>::new());
    assert_eq!(list(&format!("org_id={}&severity=P3&status=in_progress", id(&acme))).await, vec![id(&t2)]);

    // updated_since: what changed at or after a moment, least recently changed first
    // (t3 was created at the mark, then t2 moved, then t1 got a comment).
    let mark = app.get(&format!("/api/v1/tickets/{}", id(&t3)), a).await.expect(200)["updated_at"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(&format!("/api/v1/tickets/{}/comments", id(&t1)), a, json!({ "body": "any news?" })).await.expect(201);
    let changed =
        ids(&app.walk(&format!("/api/v1/tickets?order=updated&updated_since={}", mark.replace('+', "%2B"))).await);
    assert_eq!(changed, vec![id(&t3), id(&t2), id(&t1)]);
}
