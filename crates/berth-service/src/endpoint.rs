//! Scoring through a running `berth serve` (a staging server, say): what
//! `berth validate --endpoint URL` uses. It asks `/health` which version
//! answers, the Open Inference Protocol metadata what it takes and gives,
//! then posts the data in batches to `/predict` and times single rows over
//! one kept-alive HTTP/1.1 connection.

use std::time::{Duration, Instant};

use berth_data::Table;
use berth_ml::{Prediction, Task};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use serde_json::{Value, json};

use crate::transport::Transport;
use crate::{Result, ServiceError};

const BATCH: usize = 256;
const TIMEOUT: Duration = Duration::from_secs(60);

pub struct Endpoint {
    url: String,
    host: String,
    port: u16,
    base: String,
    pub name: String,
    pub version: String,
    pub task: Task,
    pub classes: Option<Vec<String>>,
    pub inputs: Vec<String>,
    /// Sent as `Authorization: Bearer` (the server's admin token).
    bearer: Option<String>,
    transport: Transport,
    conn: tokio::sync::Mutex<Option<SendRequest<Full<Bytes>>>>,
}

fn bad_url(url: &str, why: &str) -> ServiceError {
    ServiceError::input(format!("--endpoint {url:?}: {why}"), Some("write it as http://HOST:PORT".into()))
}

/// A berth server's address, checked where it enters:
/// `http://HOST[:PORT][/PREFIX]` (port 80 when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl {
    /// As given, without a trailing `/`: how messages show it.
    text: String,
    host: String,
    port: u16,
    /// The path prefix every request goes under (`/berth`), or empty.
    base: String,
    /// `https://`: spoken over TLS.
    tls: bool,
}

impl EndpointUrl {
    pub fn parse(url: &str) -> Result<EndpointUrl> {
        let text = url.trim_end_matches('/').to_string();
        match url.strip_prefix("https://") {
            Some(rest) => {
                let (host, port, base) = parse_url(&format!("http://{rest}"))?;
                let authority = rest.split('/').next().unwrap_or_default();
                let port_given = authority.rsplit_once(']').map_or(authority, |(_, p)| p).contains(':');
                Ok(EndpointUrl { text, host, port: if port_given { port } else { 443 }, base, tls: true })
            }
            None => {
                let (host, port, base) = parse_url(url)?;
                Ok(EndpointUrl { text, host, port, base, tls: false })
            }
        }
    }

    /// Whether requests to it go over TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    pub fn host(&self) -> &str {
        &self.host
    }
}

impl std::fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for EndpointUrl {
    type Err = ServiceError;
    fn from_str(s: &str) -> Result<EndpointUrl> {
        EndpointUrl::parse(s)
    }
}

/// `http://host[:port][/prefix]` into its parts.
fn parse_url(url: &str) -> Result<(String, u16, String)> {
    let rest = url.strip_prefix("http://").ok_or_else(|| bad_url(url, "it must start with http:// or https://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let (host, port) = match authority.rsplit_once(':') {
        _ if authority.starts_with('[') && authority.ends_with(']') => (authority, 80),
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad_url(url, &format!("{p:?} is not a port")))?),
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad_url(url, "no host"));
    }
    Ok((host.to_string(), port, path.to_string()))
}

impl Endpoint {
    /// A server at `url`, asked nothing yet: for its admin endpoints.
    pub fn at(url: &str) -> Result<Endpoint> {
        Ok(Endpoint::at_url(EndpointUrl::parse(url)?))
    }

    /// A server at `url`, asked nothing yet.
    pub fn at_url(url: EndpointUrl) -> Endpoint {
        let transport = if url.tls {
            Transport::tls(None).expect("TLS without an extra CA always builds")
        } else {
            Transport::Plain
        };
        let EndpointUrl { text, host, port, base, .. } = url;
        Endpoint {
            url: text,
            host,
            port,
            base,
            name: String::new(),
            version: String::new(),
            task: Task::Regression,
            classes: None,
            inputs: Vec::new(),
            bearer: None,
            transport,
            conn: tokio::sync::Mutex::new(None),
        }
    }

    /// Trusts the certificates in `ca` beside the system's, for an `https://` URL.
    pub fn with_ca(mut self, ca: &std::path::Path) -> Result<Endpoint> {
        if matches!(self.transport, Transport::Tls(_)) {
            self.transport = Transport::tls(Some(ca))?;
        }
        Ok(self)
    }

    /// Sends `token` with every request, as `Authorization: Bearer`: what a
    /// server started with an admin token requires of `/admin/*`.
    pub fn with_admin_token(mut self, token: String) -> Endpoint {
        self.bearer = Some(token);
        self
    }

    /// One JSON request: the status and the answer's JSON (null when empty).
    pub async fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value)> {
        self.call(method, path, body).await
    }

    /// Connects and learns which model answers and what it takes.
    pub async fn connect(url: &str) -> Result<Endpoint> {
        Endpoint::connect_to(&EndpointUrl::parse(url)?).await
    }

    /// [`Endpoint::connect`] to an address already checked.
    pub async fn connect_to(url: &EndpointUrl) -> Result<Endpoint> {
        let mut e = Endpoint::at_url(url.clone());
        let (status, health) = e.call("GET", "/health", None).await?;
        if status != 200 {
            let why = health["load_status"]["error"].as_str().unwrap_or("it is not ready").to_string();
            return Err(ServiceError::Infra {
                message: format!("{} has no model loaded ({status}): {why}", e.url),
                hint: Some("check the server's /health".into()),
            });
        }
        e.name = health["model"].as_str().unwrap_or_default().to_string();
        e.version = health["version"].as_str().unwrap_or_default().to_string();
        let (status, meta) = e.call("GET", &format!("/v2/models/{}", e.name), None).await?;
        if status != 200 {
            return Err(ServiceError::Infra {
                message: format!("{}: the model's metadata is not available ({status}): {meta}", e.url),
                hint: Some("is this a berth server?".into()),
            });
        }
        e.inputs = meta["inputs"]
            .as_array()
            .map(|a| a.iter().filter_map(|i| i["name"].as_str().map(String::from)).collect())
            .unwrap_or_default();
        let outputs: Vec<&Value> = meta["outputs"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
        let has = |n: &str| outputs.iter().any(|o| o["name"] == n);
        if has("probabilities") {
            e.task = Task::Classification;
            e.classes = outputs
                .iter()
                .find(|o| o["name"] == "probabilities")
                .and_then(|o| o["parameters"]["classes"].as_str())
                .map(|c| c.split(',').map(String::from).collect());
        } else if has("score") {
            e.task = Task::Anomaly;
        }
        Ok(e)
    }

    /// "churn@3 at http://…", for reports.
    /// The server's address as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn shown(&self) -> String {
        format!("{}@{} at {}", self.name, self.version, self.url)
    }

    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value)> {
        let infra = |what: String| ServiceError::Infra {
            message: format!("{}{path}: {what}", self.url),
            hint: Some("check that the server is running and reachable".into()),
        };
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let mut conn = self.conn.lock().await;
        for attempt in 0..2 {
            if conn.as_ref().is_none_or(|c| c.is_closed()) {
                *conn = Some(self.transport.handshake(&self.host, self.port, TIMEOUT, &infra).await?);
            }
            let sender = conn.as_mut().expect("connected above");
            let mut req = hyper::Request::builder()
                .method(method)
                .uri(format!("{}{path}", self.base))
                .header("host", format!("{}:{}", self.host, self.port))
                .header("content-type", "application/json");
            if let Some(t) = &self.bearer {
                let mut value = hyper::header::HeaderValue::try_from(format!("Bearer {t}")).map_err(|_| {
                    ServiceError::input(
                        "the admin token cannot be sent in an HTTP header (it holds control characters)",
                        Some("use a token of letters, digits and punctuation".to_string()),
                    )
                })?;
                value.set_sensitive(true);
                req = req.header(hyper::header::AUTHORIZATION, value);
            }
            let req = req.body(Full::new(bytes.clone())).map_err(|e| infra(e.to_string()))?;
            let sent = tokio::time::timeout(TIMEOUT, async {
                let resp = sender.send_request(req).await?;
                let status = resp.status().as_u16();
                let body = resp.into_body().collect().await?.to_bytes();
                Ok::<_, hyper::Error>((status, body))
            })
            .await
            .map_err(|_| infra(format!("no answer within {TIMEOUT:?}")))?;
            match sent {
                Ok((status, body)) => {
                    let v = if body.is_empty() {
                        Value::Null
                    } else {
                        serde_json::from_slice(&body).map_err(|e| infra(format!("the answer is not JSON: {e}")))?
                    };
                    return Ok((status, v));
                }
                // A kept-alive connection the server closed: reconnect once.
                Err(_) if attempt == 0 => *conn = None,
                Err(e) => return Err(infra(e.to_string())),
            }
        }
        unreachable!("the second attempt returns")
    }

    /// One request on a connection of its own, with a body of any kind (a
    /// file streamed from disk, say) and `headers` beside the bearer token:
    /// the answer as it arrives, its body not yet read. Only connecting and
    /// the handshake are timed; the caller bounds reading the answer.
    pub(crate) async fn send_streaming<B>(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: B,
    ) -> Result<hyper::Response<hyper::body::Incoming>>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let infra = |what: String| ServiceError::Infra {
            message: format!("{}{path}: {what}", self.url),
            hint: Some("check that the server is running and reachable, then run the command again".into()),
        };
        let mut sender = self.transport.handshake(&self.host, self.port, TIMEOUT, &infra).await?;
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("host", format!("{}:{}", self.host, self.port));
        for (name, value) in headers {
            req = req.header(*name, value.as_str());
        }
        if let Some(t) = &self.bearer {
            let mut value = hyper::header::HeaderValue::try_from(format!("Bearer {t}")).map_err(|_| {
                ServiceError::input(
                    "the token cannot be sent in an HTTP header (it holds control characters)",
                    Some("use a token of letters, digits and punctuation".to_string()),
                )
            })?;
            value.set_sensitive(true);
            req = req.header(hyper::header::AUTHORIZATION, value);
        }
        let req = req.body(body).map_err(|e| infra(e.to_string()))?;
        sender.send_request(req).await.map_err(|e| infra(e.to_string()))
    }

    fn columns(&self, table: &Table) -> Result<Table> {
        let missing: Vec<&String> = self.inputs.iter().filter(|n| table.column(n).is_none()).collect();
        if !missing.is_empty() {
            return Err(ServiceError::input(
                format!("{} takes {:?}; the data lacks {missing:?}", self.shown(), self.inputs),
                Some("validate on data with the model's input columns".into()),
            ));
        }
        Ok(table.select(&self.inputs)?)
    }

    async fn post_rows(&self, t: &Table, rows: std::ops::Range<usize>) -> Result<Value> {
        let instances: Vec<Value> = rows.map(|i| Value::Object(t.record(i))).collect();
        let (status, body) = self.call("POST", "/predict", Some(&json!({ "instances": instances }))).await?;
        if status != 200 {
            return Err(ServiceError::input(
                format!("{} refused the data ({status}): {}", self.shown(), body["error"].as_str().unwrap_or("")),
                body["problems"].as_array().map(|p| format!("{} problems, e.g. {}", p.len(), p[0])),
            ));
        }
        Ok(body)
    }

    /// Scores every row, in batches.
    pub async fn predict(&self, table: &Table) -> Result<Prediction> {
        let t = self.columns(table)?;
        let (mut labels, mut values, mut probs) = (Vec::new(), Vec::new(), Vec::new());
        let mut start = 0;
        while start < t.rows() {
            let end = (start + BATCH).min(t.rows());
            let body = self.post_rows(&t, start..end).await?;
            let preds = body["predictions"].as_array().cloned().unwrap_or_default();
            if preds.len() != end - start {
                return Err(ServiceError::input(
                    format!("{} answered {} predictions for {} rows", self.shown(), preds.len(), end - start),
                    None,
                ));
            }
            for p in &preds {
                match (self.task, p) {
                    (Task::Regression, Value::Number(n)) => values.push(n.as_f64().unwrap_or(f64::NAN)),
                    (_, Value::String(s)) => labels.push(s.clone()),
                    _ => {
                        return Err(ServiceError::input(
                            format!("{} answered an odd prediction: {p}", self.shown()),
                            None,
                        ));
                    }
                }
            }
            if let (Some(classes), Some(rows)) = (&self.classes, body["probabilities"].as_array()) {
                for r in rows {
                    probs.push(classes.iter().map(|c| r[c].as_f64().unwrap_or(f64::NAN)).collect::<Vec<f64>>());
                }
            }
            if let Some(scores) = body["scores"].as_array() {
                values.extend(scores.iter().map(|s| s.as_f64().unwrap_or(f64::NAN)));
            }
            start = end;
        }
        Ok(Prediction {
            values: (!values.is_empty()).then_some(values),
            labels: (!labels.is_empty()).then_some(labels),
            probabilities: (!probs.is_empty()).then_some(probs),
            classes: self.classes.clone().filter(|_| self.task == Task::Classification),
        })
    }

    /// Milliseconds per single-row request, over the network, after warm-up.
    pub async fn latency(&self, table: &Table, runs: usize, warmup: usize) -> Result<Vec<f64>> {
        let t = self.columns(table)?;
        let mut out = Vec::with_capacity(runs);
        for k in 0..warmup + runs {
            let i = k % t.rows();
            let started = Instant::now();
            self.post_rows(&t, i..i + 1).await?;
            if k >= warmup {
                out.push(started.elapsed().as_secs_f64() * 1e3);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::{EndpointUrl, parse_url};

    #[test]
    fn urls() {
        assert_eq!(parse_url("http://127.0.0.1:8080").unwrap(), ("127.0.0.1".into(), 8080, "".into()));
        assert_eq!(parse_url("http://staging/berth/").unwrap(), ("staging".into(), 80, "/berth".into()));
        assert_eq!(parse_url("http://[::1]:9000/x").unwrap(), ("::1".into(), 9000, "/x".into()));
        assert_eq!(parse_url("http://[::1]").unwrap(), ("::1".into(), 80, "".into()));
        assert!(parse_url("https://x").is_err());
        let tls = EndpointUrl::parse("https://hub.example.com/api").unwrap();
        assert_eq!((tls.tls, tls.host.as_str(), tls.port, tls.base.as_str()), (true, "hub.example.com", 443, "/api"));
        assert_eq!(EndpointUrl::parse("https://[::1]:8443").unwrap().port, 8443);
        assert!(!EndpointUrl::parse("http://x").unwrap().tls);
        assert!(parse_url("http://x:port").is_err());
        assert!(parse_url("http://:80").is_err());
        let url = EndpointUrl::parse("http://staging:8080/berth/").unwrap();
        assert_eq!(url.to_string(), "http://staging:8080/berth");
        let e = EndpointUrl::parse("staging:8080").unwrap_err();
        assert!(e.to_string().contains("it must start with http:// or https://"), "{e}");
    }
}
