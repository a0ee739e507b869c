use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

/// Kills the child even when an assertion fails first.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_serves_the_configured_app_and_users() {
    let users = std::env::temp_dir().join(format!("lark-sim-users-{}.json", std::process::id()));
    std::fs::write(&users, json!([{"name": "Erin", "email": "erin@example.com"}]).to_string()).unwrap();
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_lark-sim"))
            .args(["--listen", "127.0.0.1:0", "--app-id", "cli_00112233445566ff", "--app-secret", "s3cret"])
            .arg("--users")
            .arg(&users)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut first_line = String::new();
    // Kept open until the end so the binary's later output never meets a closed pipe.
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    stdout.read_line(&mut first_line).unwrap();
    let base_url = first_line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(base_url.starts_with("http://127.0.0.1:"), "{first_line}");

    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{base_url}/open-apis/auth/v3/tenant_access_token/internal"))
        .json(&json!({"app_id": "cli_00112233445566ff", "app_secret": "s3cret"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(token["code"], 0);
    let state: Value = http.get(format!("{base_url}/_sim/state")).send().await.unwrap().json().await.unwrap();
    assert_eq!(state["users"][0]["email"], "erin@example.com");
    std::fs::remove_file(&users).unwrap();
    drop(stdout);
}
