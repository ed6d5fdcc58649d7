//! A small Kubernetes API server on loopback that implements only what the EKS scheduler
//! uses of a cluster's API: Karpenter's NodePools (list, get, JSON merge patch under a
//! `resourceVersion`, 409 when it changed) and NodeClaims (list by label, delete).
//!
//! This is the one place a hand-written server stands in for a real implementation: no
//! Kubernetes API server can be installed on these machines (none is in the package
//! registries), and the emulator has no cluster API. It authenticates as EKS does (the
//! bearer token checked by `kube_token::verify`, 401 otherwise) and authorizes by a set of
//! allowed verbs on resources (403 otherwise), like RBAC bound through an access entry.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::kube_token;

const NODEPOOLS: &str = "/apis/karpenter.sh/v1/nodepools";
const NODECLAIMS: &str = "/apis/karpenter.sh/v1/nodeclaims";

/// Every verb on every resource the scheduler uses, as its ClusterRole grants them.
pub const SCHEDULER_RBAC: [(&str, &str); 5] = [
    ("list", "nodepools"),
    ("get", "nodepools"),
    ("patch", "nodepools"),
    ("list", "nodeclaims"),
    ("delete", "nodeclaims"),
];

#[derive(Debug, Default)]
struct State {
    karpenter: bool,
    nodepools: BTreeMap<String, Value>,
    nodeclaims: BTreeMap<String, Value>,
    version: u64,
    allowed: BTreeSet<(String, String)>,
    /// Patches still to find their pool changed just before they arrive (another writer).
    conflicts: usize,
    requests: Vec<(String, String, u16)>,
    /// When each request arrived, in the same order.
    arrivals: Vec<std::time::Instant>,
    /// The share of authenticated requests answered with a transient failure (500 or 429), and
    /// the generator choosing them.
    fault_rate: f64,
    fault_state: u64,
}

/// The server: its URL, and its objects to seed and read back.
#[derive(Debug, Clone)]
pub struct KubeApiServer {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl KubeApiServer {
    /// Serves cluster `cluster`'s API over plain HTTP, accepting tokens signed with `secret`
    /// (any access key).
    pub async fn start(cluster: &str, secret: &str) -> std::io::Result<Self> {
        Self::serve(cluster, secret, None).await
    }

    /// The same over TLS, as a cluster's API is: `certificate` and `key` are PEM, the
    /// certificate chaining to the cluster's certificate authority.
    pub async fn start_tls(cluster: &str, secret: &str, certificate: &[u8], key: &[u8]) -> std::io::Result<Self> {
        let invalid =
            |err: &dyn std::fmt::Display| std::io::Error::new(std::io::ErrorKind::InvalidInput, err.to_string());
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(certificate).collect::<Result<_, _>>().map_err(|err| invalid(&err))?;
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|err| invalid(&err))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| invalid(&err))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|err| invalid(&err))?;
        Self::serve(cluster, secret, Some(TlsAcceptor::from(Arc::new(config)))).await
    }

    async fn serve(cluster: &str, secret: &str, tls: Option<TlsAcceptor>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State {
            karpenter: true,
            allowed: SCHEDULER_RBAC.iter().map(|(v, r)| ((*v).to_owned(), (*r).to_owned())).collect(),
            ..State::default()
        }));
        let (shared, cluster, secret) = (state.clone(), cluster.to_owned(), secret.to_owned());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (state, cluster, secret, tls) = (shared.clone(), cluster.clone(), secret.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        // A client that refuses the certificate ends here, before any request.
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve_connection(stream, &state, &cluster, &secret).await;
                            }
                        }
                        None => serve_connection(stream, &state, &cluster, &secret).await,
                    }
                });
            }
        });
        Ok(Self { url, state })
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut state)
    }

    /// A NodePool with these limits (`{}`: none).
    pub fn add_nodepool(&self, name: &str, limits: Value) {
        self.with(|state| {
            state.version += 1;
            let pool = json!({
                "apiVersion": "karpenter.sh/v1", "kind": "NodePool",
                "metadata": {"name": name, "resourceVersion": state.version.to_string()},
                "spec": {"limits": limits, "template": {"spec": {"nodeClassRef": {"name": "default"}}}},
            });
            state.nodepools.insert(name.to_owned(), pool);
        });
    }

    /// A NodeClaim of `nodepool`, not yet launched: no instance type.
    pub fn add_nodeclaim(&self, name: &str, nodepool: &str) {
        self.add_claim(name, json!({"karpenter.sh/nodepool": nodepool}));
    }

    /// A launched NodeClaim of `nodepool`, labelled as Karpenter labels it: its instance type
    /// and capacity type (`on-demand`, `spot`).
    pub fn add_launched_nodeclaim(&self, name: &str, nodepool: &str, instance_type: &str, capacity_type: &str) {
        self.add_claim(
            name,
            json!({
                "karpenter.sh/nodepool": nodepool,
                "node.kubernetes.io/instance-type": instance_type,
                "karpenter.sh/capacity-type": capacity_type,
            }),
        );
    }

    fn add_claim(&self, name: &str, labels: Value) {
        self.with(|state| {
            let claim = json!({"metadata": {"name": name, "labels": labels}});
            state.nodeclaims.insert(name.to_owned(), claim);
        });
    }

    pub fn nodepool(&self, name: &str) -> Option<Value> {
        self.with(|state| state.nodepools.get(name).cloned())
    }

    pub fn nodeclaims(&self) -> Vec<String> {
        self.with(|state| state.nodeclaims.keys().cloned().collect())
    }

    /// Karpenter not installed: its resources answer 404.
    pub fn without_karpenter(&self) {
        self.with(|state| state.karpenter = false);
    }

    /// Takes a verb on a resource away from the function's RBAC.
    pub fn deny(&self, verb: &str, resource: &str) {
        self.with(|state| state.allowed.remove(&(verb.to_owned(), resource.to_owned())));
    }

    /// Gives a verb on a resource back.
    pub fn allow(&self, verb: &str, resource: &str) {
        self.with(|state| state.allowed.insert((verb.to_owned(), resource.to_owned())));
    }

    /// Answers about `rate` of the requests, chosen by `seed`, with a failure the client should
    /// try again (500, as from an overloaded etcd, or 429, the API's priority and fairness), before acting.
    pub fn fail_randomly(&self, seed: u64, rate: f64) {
        self.with(|state| (state.fault_rate, state.fault_state) = (rate, seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1));
    }

    /// How many requests were answered with an injected failure.
    pub fn faults(&self) -> usize {
        self.with(|state| state.requests.iter().filter(|(_, _, code)| matches!(code, 429 | 500)).count())
    }

    /// The next `count` patches find their pool changed just before (a 409 each).
    pub fn conflict_next_patches(&self, count: usize) {
        self.with(|state| state.conflicts = count);
    }

    /// Every request: method, path, the status answered.
    pub fn requests(&self) -> Vec<(String, String, u16)> {
        self.with(|state| state.requests.clone())
    }

    /// When each of `requests` arrived: orders them against the AWS calls a proxy saw.
    pub fn arrivals(&self) -> Vec<std::time::Instant> {
        self.with(|state| state.arrivals.clone())
    }
}

/// RFC 7386: a null removes, an object merges, anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "message": message, "code": code}),
    )
}

fn answer(state: &mut State, method: &str, target: &str, body: &[u8], authorized: Result<(), String>) -> (u16, Value) {
    if let Err(why) = authorized {
        return status(401, "Unauthorized", &why);
    }
    if state.fault_rate > 0.0 {
        // xorshift64: repeatable for a seed.
        let mut x = state.fault_state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.fault_state = x;
        if ((x >> 11) as f64 / (1u64 << 53) as f64) < state.fault_rate {
            return if x & 1 == 0 {
                status(500, "InternalError", "etcdserver: request timed out")
            } else {
                status(
                    429,
                    "TooManyRequests",
                    "the server has received too many requests and has asked us to try again later",
                )
            };
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (resource, name) = if let Some(rest) = path.strip_prefix(NODEPOOLS) {
        ("nodepools", rest.trim_start_matches('/'))
    } else if let Some(rest) = path.strip_prefix(NODECLAIMS) {
        ("nodeclaims", rest.trim_start_matches('/'))
    } else {
        return status(404, "NotFound", "the server could not find the requested resource");
    };
    let verb = match (method, name.is_empty()) {
        ("GET", true) => "list",
        ("GET", false) => "get",
        ("PATCH", false) => "patch",
        ("DELETE", false) => "delete",
        _ => return status(405, "MethodNotAllowed", "not supported here"),
    };
    if !state.karpenter {
        return status(404, "NotFound", "the server could not find the requested resource");
    }
    if !state.allowed.contains(&(verb.to_owned(), resource.to_owned())) {
        let message =
            format!("user cannot {verb} resource \"{resource}\" in API group \"karpenter.sh\" at the cluster scope");
        return status(403, "Forbidden", &message);
    }
    match (resource, verb) {
        ("nodepools", "list") => {
            (200, json!({"kind": "NodePoolList", "items": state.nodepools.values().collect::<Vec<_>>()}))
        }
        ("nodepools", "get") => match state.nodepools.get(name) {
            Some(pool) => (200, pool.clone()),
            None => status(404, "NotFound", &format!("nodepools.karpenter.sh \"{name}\" not found")),
        },
        ("nodepools", "patch") => {
            let Ok(patch) = serde_json::from_slice::<Value>(body) else { return status(400, "BadRequest", "not JSON") };
            if state.conflicts > 0 {
                state.conflicts -= 1;
                state.version += 1;
                let version = state.version.to_string();
                if let Some(pool) = state.nodepools.get_mut(name) {
                    pool["metadata"]["resourceVersion"] = json!(version);
                }
            }
            let version = state.version + 1;
            let Some(pool) = state.nodepools.get_mut(name) else {
                return status(404, "NotFound", &format!("nodepools.karpenter.sh \"{name}\" not found"));
            };
            if let Some(wanted) = patch["metadata"]["resourceVersion"].as_str()
                && pool["metadata"]["resourceVersion"].as_str() != Some(wanted)
            {
                let message = format!(
                    "Operation cannot be fulfilled on nodepools.karpenter.sh \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
                );
                return status(409, "Conflict", &message);
            }
            merge(pool, &patch);
            pool["metadata"]["resourceVersion"] = json!(version.to_string());
            state.version = version;
            (200, pool.clone())
        }
        ("nodeclaims", "list") => {
            let selector =
                query.strip_prefix("labelSelector=").unwrap_or_default().replace("%2F", "/").replace("%3D", "=");
            let items: Vec<&Value> = match selector.split_once('=') {
                Some((label, value)) => {
                    state.nodeclaims.values().filter(|claim| claim["metadata"]["labels"][label] == value).collect()
                }
                None => state.nodeclaims.values().collect(),
            };
            (200, json!({"kind": "NodeClaimList", "items": items}))
        }
        ("nodeclaims", "delete") => match state.nodeclaims.remove(name) {
            Some(claim) => (200, claim),
            None => status(404, "NotFound", &format!("nodeclaims.karpenter.sh \"{name}\" not found")),
        },
        _ => status(405, "MethodNotAllowed", "not supported here"),
    }
}

async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    state: &Mutex<State>,
    cluster: &str,
    secret: &str,
) {
    let mut data = Vec::new();
    let mut buffer = [0u8; 8192];
    let (head_end, length) = loop {
        let Ok(read) = stream.read(&mut buffer).await else { return };
        if read == 0 {
            return;
        }
        data.extend_from_slice(&buffer[..read]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:").and_then(|v| v.trim().parse::<usize>().ok()))
                .unwrap_or(0);
            break (end + 4, length);
        }
    };
    while data.len() < head_end + length {
        let Ok(read) = stream.read(&mut buffer).await else { return };
        if read == 0 {
            break;
        }
        data.extend_from_slice(&buffer[..read]);
    }
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut request_line = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, target) = (request_line.next().unwrap_or_default(), request_line.next().unwrap_or_default());
    let token = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("authorization")
            .then(|| value.trim().strip_prefix("Bearer ").unwrap_or("").to_owned())
    });
    let now = jiff::Timestamp::now().as_second();
    let authorized = match token {
        None => Err("no bearer token".to_owned()),
        Some(token) => {
            kube_token::verify(&token, cluster, now, |_| Some(secret.to_owned())).map(|_| ()).map_err(|r| r.0)
        }
    };
    let body = &data[head_end..(head_end + length).min(data.len())];
    let (code, answer) = {
        let mut state = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (code, answer) = answer(&mut state, method, target, body, authorized);
        state.requests.push((method.to_owned(), target.to_owned(), code));
        state.arrivals.push(std::time::Instant::now());
        (code, answer)
    };
    crate::http_listener::write_json(&mut stream, code, "application/json", &answer).await;
}
