//! Operations: health, readiness, metrics, request ids.

use reqwest::Method;
use serde_json::json;

use crate::on_both_databases;
use crate::support::{Db, TestApp};

on_both_databases!(health_readiness_and_metrics);

async fn health_readiness_and_metrics(db: Db) {
    let app = TestApp::spawn(db).await;
    assert_eq!(app.call(Method::GET, "/healthz", None, None).await.expect(200), json!({ "status": "ok" }));
    assert_eq!(app.call(Method::GET, "/readyz", None, None).await.expect(200), json!({ "status": "ok" }));

    let org = app.org("Metrics Co").await;
    app.get(&format!("/api/v1/orgs/{}", org["id"].as_str().unwrap()), &app.admin).await.expect(200);
    app.get(&format!("/api/v1/orgs/{}", uuid::Uuid::nil()), &app.admin).await.expect(404);

    // Every response carries the request id that its log lines carry.
    let res = app.client.get(format!("{}/healthz", app.base)).send().await.unwrap();
    let request_id = res.headers().get("x-request-id").expect("x-request-id header").to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&request_id).is_ok(), "{request_id}");

    let text = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    // Labelled by route pattern, never by raw path (ids would explode the series).
    assert!(
        text.lines().any(|l| l.starts_with("desk_http_requests_total{")
            && l.contains("route=\"/api/v1/orgs/{id}\"")
            && l.contains("status=\"200\"")
            && l.ends_with(" 1")),
        "{text}"
    );
    assert!(text.contains("route=\"/api/v1/orgs/{id}\",status=\"404\""), "{text}");
    assert!(text.contains("desk_http_request_duration_seconds_bucket{"), "{text}");
    assert!(!text.contains(&uuid::Uuid::nil().to_string()));
}
