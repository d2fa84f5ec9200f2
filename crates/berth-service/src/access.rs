//! Who is acting and what they may do. Embedded, the person at the terminal
//! owns the project and may do everything; through the hub, a caller is the
//! principal of the token it presents, with that token's one grant. Every
//! operation asks [`Berth::allow`] before it reads or changes anything, so a
//! permission holds on every path into the service, not only on the routes
//! that remember to check it.

use berth_core::{AliasName, Digest, Grant, ModelName, ModelPattern, Role, Timestamp};
use berth_registry::{NewToken, TokenRecord};
use serde::{Deserialize, Serialize};

use crate::{Berth, Result, ServiceError};

/// Every token starts with this, so secret scanners and people can tell one.
pub const TOKEN_PREFIX: &str = "berth_";

/// How many characters of a secret lists show.
const SHOWN: usize = TOKEN_PREFIX.len() + 6;

/// Who is acting: a person or a service account, the token they came with
/// (none when local), and what that token allows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Principal {
    pub name: String,
    pub token: Option<String>,
    pub grant: Grant,
}

impl Principal {
    /// The owner of a local project: may do everything.
    pub fn local(name: impl Into<String>) -> Principal {
        Principal { name: name.into(), token: None, grant: Grant::everything() }
    }

    /// "ci (token tok_…, deployer on fraud-* in staging)", for messages.
    pub fn describe(&self) -> String {
        let Some(token) = &self.token else { return self.name.clone() };
        let g = &self.grant;
        let envs = if g.envs.is_empty() {
            String::new()
        } else {
            format!(" in {}", g.envs.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", "))
        };
        format!("{} (token {token}, {} on {}{envs})", self.name, g.role, g.models)
    }
}

/// A token just made: the secret, shown this once, and its record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewTokenReport {
    pub secret: String,
    pub token: TokenRecord,
}

/// What a new token may do and for how long.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub principal: String,
    pub grant: Grant,
    pub expires_at: Option<Timestamp>,
}

/// The SHA-256 the registry keeps of a secret, as hex.
fn secret_sha256(secret: &str) -> String {
    Digest::of(secret.as_bytes()).hex()
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| ServiceError::Infra {
        message: format!("the operating system gave no random bytes for a token: {e}"),
        hint: None,
    })?;
    Ok(b)
}

fn base62(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    // 32 random bytes as 43 base-62 digits by repeated division: ~256 bits kept.
    let mut n: Vec<u8> = bytes.to_vec();
    let mut out = Vec::new();
    while n.iter().any(|&b| b != 0) {
        let mut rem = 0u32;
        for b in n.iter_mut() {
            let cur = (rem << 8) | u32::from(*b);
            *b = (cur / 62) as u8;
            rem = cur % 62;
        }
        out.push(ALPHABET[rem as usize]);
    }
    while out.len() < 43 {
        out.push(b'0');
    }
    out.reverse();
    String::from_utf8(out).expect("the alphabet is ASCII")
}

/// What an act needs, for messages: "promote", "push", …
fn act_name(role: Role) -> &'static str {
    match role {
        Role::Reader => "read",
        Role::Publisher => "publish",
        Role::Approver => "approve",
        Role::Deployer => "deploy",
        Role::Admin => "administer",
    }
}

impl Berth {
    /// Who this berth acts as.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// Refuses an act the principal's grant does not cover: `role` over
    /// `model` (the whole registry when `None`), in `env` for acts on an
    /// environment.
    pub fn allow(&self, role: Role, model: Option<&ModelName>, env: Option<&AliasName>) -> Result<()> {
        if self.principal.grant.allows(role, model, env) {
            return Ok(());
        }
        let on = match (model, env) {
            (Some(m), Some(e)) => format!("{m} in {e}"),
            (Some(m), None) => m.to_string(),
            (None, _) => "the whole registry".into(),
        };
        let models = model.map(|m| m.to_string()).unwrap_or_else(|| "'*'".into());
        let env_flag = env.map(|e| format!(" --env {e}")).unwrap_or_default();
        Err(ServiceError::Denied {
            message: format!(
                "{} may not {} {on}: that needs the {role} role on {on}",
                self.principal.describe(),
                act_name(role)
            ),
            hint: Some(format!(
                "ask an admin for a token made with `berth token create --principal {} --role {role} --models {models}{env_flag}`",
                self.principal.name
            )),
            missing: Vec::new(),
        })
    }

    /// The principal a token secret stands for; refuses an unknown, revoked
    /// or expired token without saying which of the three it was to a caller
    /// who presented a secret that matches nothing.
    pub async fn authenticate(&self, secret: &str) -> Result<Principal> {
        let unauthenticated = |why: &str| ServiceError::Unauthenticated {
            message: format!("the token {why}"),
            hint: Some("send a valid token as `Authorization: Bearer berth_…`; `berth token create` makes one".into()),
        };
        if !secret.starts_with(TOKEN_PREFIX) {
            return Err(unauthenticated("is not a berth token (they start with berth_)"));
        }
        let Some(t) = self.registry.token_by_hash(&secret_sha256(secret)).await? else {
            return Err(unauthenticated("is not known to this hub"));
        };
        let now = self.now();
        if let Some(why) = t.unusable(now) {
            return Err(unauthenticated(&format!("{} was {why}", t.id)));
        }
        // The registry writes a last use at most once a minute; skip asking
        // it to when the record just read says it would not.
        if t.last_used_at.is_none_or(|at| now.millis() - at.millis() >= 60_000) {
            self.registry.touch_token(&t.id).await?;
        }
        Ok(Principal { name: t.principal, token: Some(t.id), grant: t.grant })
    }

    /// A new token; the secret is in the report and nowhere else.
    pub async fn create_token(&self, req: &TokenRequest) -> Result<NewTokenReport> {
        self.allow(Role::Admin, None, None)?;
        if req.principal.trim().is_empty() || req.principal.len() > 128 {
            return Err(ServiceError::input(
                format!("principal {:?} is not a name: 1-128 characters", req.principal),
                Some("name the person or service account, e.g. --principal ci".to_string()),
            ));
        }
        if let Some(e) = req.expires_at
            && e <= self.now()
        {
            return Err(ServiceError::input(
                format!("the token would expire at {}, which has passed", e.to_rfc3339()),
                Some("give --expires a duration such as 90d".to_string()),
            ));
        }
        let secret = format!("{TOKEN_PREFIX}{}", base62(&random_bytes::<32>()?));
        let id = format!("tok_{}", hex_of(&random_bytes::<6>()?));
        let new = NewToken {
            id: &id,
            secret_sha256: &secret_sha256(&secret),
            prefix: &secret[..SHOWN],
            principal: &req.principal,
            grant: &req.grant,
            expires_at: req.expires_at,
        };
        let token = self.registry.create_token(new, &self.actor).await?;
        Ok(NewTokenReport { secret, token })
    }

    /// Every token, newest first (no secrets: the registry has none).
    pub async fn tokens(&self) -> Result<Vec<TokenRecord>> {
        self.allow(Role::Admin, None, None)?;
        Ok(self.registry.tokens().await?)
    }

    pub async fn revoke_token(&self, id: &str) -> Result<TokenRecord> {
        self.allow(Role::Admin, None, None)?;
        Ok(self.registry.revoke_token(id, &self.actor).await?)
    }

    /// The hub's first admin token, made on the server by whoever holds the
    /// registry's credentials. Refused while a usable admin token exists
    /// (`force` makes another anyway, for a lost one).
    pub async fn first_admin_token(&self, principal: &str, force: bool) -> Result<NewTokenReport> {
        let now = self.now();
        let admins: Vec<TokenRecord> = self
            .tokens()
            .await?
            .into_iter()
            .filter(|t| t.grant.role == Role::Admin && t.unusable(now).is_none())
            .collect();
        if !admins.is_empty() && !force {
            let ids: Vec<&str> = admins.iter().map(|t| t.id.as_str()).collect();
            return Err(ServiceError::Conflict {
                message: format!("the hub already has an admin token ({})", ids.join(", ")),
                hint: Some(
                    "use it to make more with `berth token create`; `berth hub init --force` makes another".into(),
                ),
            });
        }
        let grant = Grant { role: Role::Admin, models: ModelPattern::any(), envs: Vec::new() };
        self.create_token(&TokenRequest { principal: principal.to_string(), grant, expires_at: None }).await
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_43_base62_digits() {
        assert_eq!(base62(&[0u8; 32]), "0".repeat(43));
        assert_eq!(base62(&[255u8; 32]).len(), 43);
        let mut one = [0u8; 32];
        one[31] = 61;
        assert!(base62(&one).ends_with('z'));
        one[31] = 62;
        assert!(base62(&one).ends_with("10"));
    }
}
