//! The OpenAPI document is generated from the code and matches what the server answers.

use std::collections::BTreeSet;

use reqwest::Method;

use crate::support::{Db, TestApp};

/// Every route the server answers, written out by hand: a route added without its
/// OpenAPI annotation (or the reverse) fails here.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/orgs"),
    ("post", "/api/v1/orgs"),
    ("get", "/api/v1/orgs/{id}"),
    ("patch", "/api/v1/orgs/{id}"),
    ("get", "/api/v1/orgs/{id}/desk"),
    ("post", "/api/v1/orgs/{id}/main-group"),
    ("get", "/api/v1/groups"),
    ("get", "/api/v1/groups/{id}"),
    ("post", "/api/v1/groups/{id}/retry"),
    ("get", "/api/v1/people"),
    ("post", "/api/v1/people"),
    ("get", "/api/v1/people/{id}"),
    ("patch", "/api/v1/people/{id}"),
    ("post", "/api/v1/people/from-lark"),
    ("post", "/api/v1/people/bind"),
    ("get", "/api/v1/tokens"),
    ("post", "/api/v1/tokens"),
    ("delete", "/api/v1/tokens/{id}"),
    ("get", "/api/v1/tickets"),
    ("post", "/api/v1/tickets"),
    ("get", "/api/v1/tickets/{id}"),
    ("patch", "/api/v1/tickets/{id}"),
    ("post", "/api/v1/tickets/{id}/assign"),
    ("post", "/api/v1/tickets/{id}/transition"),
    ("post", "/api/v1/tickets/{id}/escalate"),
    ("post", "/api/v1/tickets/{id}/emergency"),
    ("post", "/api/v1/tickets/{id}/acknowledge"),
    ("get", "/api/v1/tickets/{id}/comments"),
    ("post", "/api/v1/tickets/{id}/comments"),
    ("get", "/api/v1/tickets/{id}/timeline"),
    ("get", "/api/v1/integrations"),
    ("post", "/api/v1/integrations"),
    ("get", "/api/v1/integrations/{id}"),
    ("patch", "/api/v1/integrations/{id}"),
    ("post", "/api/v1/integrations/{id}/check"),
    ("get", "/api/v1/integrations/{id}/budget"),
    ("get", "/api/v1/integrations/{id}/status"),
    ("post", "/api/v1/integrations/{id}/connection/reconnect"),
    ("post", "/api/v1/integrations/{id}/connection/disconnect"),
    ("post", "/lark/{integration}/events"),
    ("post", "/lark/{integration}/cards"),
    ("get", "/api/v1/notifications"),
    ("get", "/api/v1/notifications/{id}"),
    ("post", "/api/v1/notifications/{id}/retry"),
    ("get", "/api/v1/notification-rules"),
    ("get", "/api/v1/orgs/{id}/reminder-rules"),
    ("post", "/api/v1/orgs/{id}/reminder-rules"),
    ("get", "/api/v1/reminder-rules/{id}"),
    ("patch", "/api/v1/reminder-rules/{id}"),
    ("delete", "/api/v1/reminder-rules/{id}"),
    ("post", "/api/v1/hooks/ticketing/{source}"),
    ("get", "/api/v1/hooks/sources"),
    ("post", "/api/v1/hooks/sources"),
    ("get", "/api/v1/hooks/sources/{name}"),
    ("patch", "/api/v1/hooks/sources/{name}"),
    ("delete", "/api/v1/hooks/sources/{name}"),
    ("post", "/api/v1/hooks/sources/{name}/secrets"),
    ("delete", "/api/v1/hooks/sources/{name}/secrets/{secret_id}"),
    ("get", "/api/v1/hooks/sources/{name}/deliveries"),
    ("get", "/api/v1/hooks/event-types"),
    ("get", "/api/v1/hooks/subscriptions"),
    ("post", "/api/v1/hooks/subscriptions"),
    ("get", "/api/v1/hooks/subscriptions/{id}"),
    ("patch", "/api/v1/hooks/subscriptions/{id}"),
    ("delete", "/api/v1/hooks/subscriptions/{id}"),
    ("post", "/api/v1/hooks/subscriptions/{id}/rotate-secret"),
    ("get", "/api/v1/hooks/subscriptions/{id}/deliveries"),
    ("get", "/api/v1/hooks/deliveries/{id}"),
    ("post", "/api/v1/hooks/deliveries/{id}/retry"),
    ("post", "/api/v1/groups/{id}/invites"),
    ("get", "/api/v1/groups/{id}/invites"),
    ("post", "/api/v1/invites/{id}/revoke"),
    ("get", "/api/v1/invites/{token}"),
    ("post", "/api/v1/invites/{token}/redeem"),
    ("get", "/invite/{token}"),
    ("get", "/invite/callback"),
    ("get", "/api/v1/groups/{id}/members"),
    ("post", "/api/v1/groups/{id}/members"),
    ("delete", "/api/v1/groups/{id}/members/{open_id}"),
    ("get", "/api/v1/tickets/{id}/escalation"),
    ("get", "/api/v1/orgs/{id}/escalation-policy"),
    ("put", "/api/v1/orgs/{id}/escalation-policy"),
    ("delete", "/api/v1/orgs/{id}/escalation-policy"),
    ("get", "/api/v1/escalation/policies"),
    ("get", "/api/v1/escalation/policies/{id}"),
    ("put", "/api/v1/escalation/policies/{id}"),
    ("delete", "/api/v1/escalation/policies/{id}"),
    ("post", "/api/v1/escalation/simulate"),
    ("get", "/api/v1/calendars"),
    ("post", "/api/v1/calendars"),
    ("get", "/api/v1/calendars/{id}"),
    ("put", "/api/v1/calendars/{id}"),
    ("delete", "/api/v1/calendars/{id}"),
    ("get", "/api/v1/oncall"),
    ("get", "/api/v1/oncall/schedules"),
    ("post", "/api/v1/oncall/schedules"),
    ("get", "/api/v1/oncall/schedules/{id}"),
    ("put", "/api/v1/oncall/schedules/{id}"),
    ("delete", "/api/v1/oncall/schedules/{id}"),
    ("get", "/api/v1/oncall/schedules/{id}/on-call"),
    ("get", "/api/v1/oncall/schedules/{id}/overrides"),
    ("post", "/api/v1/oncall/schedules/{id}/overrides"),
    ("delete", "/api/v1/oncall/schedules/{id}/overrides/{override_id}"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_parses_and_lists_every_route_the_server_answers() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let doc = app.call(Method::GET, "/api/v1/openapi.json", None, None).await.expect(200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");

    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "patch", "put", "delete"].contains(&method.as_str()) {
                documented.insert((method.clone(), path.clone()));
            }
        }
    }
    let expected: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    assert_eq!(documented, expected);

    // Every documented operation is really served: without a token a protected route is a
    // 401 (not a 404 "no route"), and the open ones answer 200.
    let id = uuid::Uuid::nil().to_string();
    for (method, path) in &documented {
        let concrete = path.replace("{id}", &id).replace("{integration}", "nobody").replace("{token}", "nobody");
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let reply = app.call(m, &concrete, None, None).await;
        let protected = doc["paths"][path][method].get("security").is_some();
        // Lark's callbacks authenticate by signature per integration: an unknown one is a 404.
        // An invite link that names nothing is a 404 (no token needed to be told so).
        // A ticketing source authenticates by signature too: an unknown one is a 404.
        let expected = if path.starts_with("/lark/") || path.contains("{token}") || path.contains("{source}") {
            404
        } else if protected {
            401
        } else {
            200
        };
        assert_eq!(reply.status.as_u16(), expected, "{method} {path}: {:#}", reply.body);
    }
    // Every operation documents its error bodies as problem+json where it can fail.
    let problem_ref = "#/components/schemas/Problem";
    for (method, path) in &documented {
        let op = &doc["paths"][path][method];
        if op.get("security").is_some() {
            let text = op["responses"].to_string();
            assert!(text.contains(problem_ref), "{method} {path} documents no Problem response");
        }
    }
}
