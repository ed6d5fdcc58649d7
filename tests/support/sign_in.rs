//! A hosted sign-in at Cognito's paths (`/oauth2/authorize`, `/oauth2/token`,
//! `/.well-known/jwks.json`) for the photos page's test: `tests/browser/sign-in/server.mjs`,
//! panva's oidc-provider under the venv's Node.js, which enforces PKCE (S256) as Cognito's
//! hosted UI does. The emulator serves no hosted UI.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use serde_json::Value;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufRead, AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, Command};

#[derive(Debug)]
pub struct HostedSignIn {
    /// The base URL of its endpoints, and the `iss` of its tokens.
    pub issuer: String,
    pub client_id: String,
    /// What the server wrote after it started, for a failing test's message.
    log: Arc<Mutex<String>>,
    _server: Child,
}

impl HostedSignIn {
    /// Starts a provider for one public client whose callback is `page_address`.
    pub async fn start(client_id: &str, page_address: &str) -> Result<Self> {
        let folder = super::workspace_root().join("tests/browser/sign-in");
        ensure!(
            folder.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is missing from {}: run `make node-tools` (its package-lock.json pins it)",
            folder.display()
        );
        let node = super::moto::python().with_file_name("node");
        let mut server = Command::new(&node)
            .arg("server.mjs")
            .args([client_id, page_address])
            .current_dir(&folder)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting the hosted sign-in with {}: run `make venv`", node.display()))?;
        let stdout = server.stdout.take().context("the sign-in server's output")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("the hosted sign-in did not start within 30 s")??
            .context("the hosted sign-in exited before it listened")?;
        let started: Value =
            serde_json::from_str(&first).with_context(|| format!("the sign-in server said {first:?}"))?;
        let issuer = started["issuer"].as_str().context("the sign-in server's issuer")?.to_owned();
        // Both pipes stay read: a server writing to a closed one dies of it.
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = server.stderr.take().context("the sign-in server's errors")?;
        tokio::spawn(keep(lines, log.clone()));
        tokio::spawn(keep(BufReader::new(stderr).lines(), log.clone()));
        Ok(Self { issuer, client_id: client_id.to_owned(), log, _server: server })
    }

    /// What the server has written since it started.
    pub fn log(&self) -> String {
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }

    /// The photos API's settings for its tokens and its page's hosted sign-in.
    pub fn api_settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("JWT_ISSUER", self.issuer.clone()),
            ("JWT_AUDIENCE", self.client_id.clone()),
            ("PAGE_SIGN_IN_URL", self.issuer.clone()),
        ]
    }
}

async fn keep(mut lines: Lines<impl AsyncBufRead + Unpin>, log: Arc<Mutex<String>>) {
    while let Ok(Some(line)) = lines.next_line().await {
        if let Ok(mut log) = log.lock() {
            log.push_str(&line);
            log.push('\n');
        }
    }
}
