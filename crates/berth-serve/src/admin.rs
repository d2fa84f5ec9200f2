//! The admin token: what callers of `/admin/*` (reload, rollouts) must show
//! when the server was given one, as `Authorization: Bearer TOKEN`.

use axum::http::HeaderValue;
use berth_core::Digest;

/// A shared secret, kept only as its SHA-256: the token itself is not held
/// for the server's life, and nothing that prints this type can show it.
#[derive(Clone)]
pub struct AdminToken(Digest);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

/// Why an admin request was refused; the messages never show a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denied {
    Missing,
    Malformed,
    Wrong,
}

impl Denied {
    pub(crate) fn message(self) -> &'static str {
        match self {
            Denied::Missing => {
                "this server's /admin endpoints need its admin token; none was sent (send Authorization: Bearer TOKEN)"
            }
            Denied::Malformed => "the Authorization header is not of the form \"Bearer TOKEN\"",
            Denied::Wrong => "the admin token sent is not this server's",
        }
    }
}

impl AdminToken {
    /// From the token's text. Refused (with a reason, never the token) when
    /// it could not travel as is in an `Authorization` header: empty, or
    /// with spaces, control or non-ASCII characters.
    pub fn new(token: &str) -> Result<AdminToken, String> {
        if token.is_empty() {
            return Err("it is empty".into());
        }
        if let Some(i) = token.bytes().position(|b| !b.is_ascii_graphic()) {
            return Err(format!(
                "character {} of {} is a space, a control or a non-ASCII character, which an HTTP header cannot \
                 carry as is",
                i + 1,
                token.len()
            ));
        }
        Ok(AdminToken(Digest::of(token.as_bytes())))
    }

    /// Whether `authorization` carries this token. The presented token is
    /// hashed and the two hashes compared in full whatever they hold, so the
    /// time taken says nothing about how much of a guess was right.
    pub(crate) fn check(&self, authorization: Option<&HeaderValue>) -> Result<(), Denied> {
        let value = authorization.ok_or(Denied::Missing)?.as_bytes();
        let (scheme, rest) = match value.iter().position(|b| *b == b' ') {
            Some(i) => (&value[..i], &value[i + 1..]),
            None => return Err(Denied::Malformed),
        };
        if !scheme.eq_ignore_ascii_case(b"bearer") {
            return Err(Denied::Malformed);
        }
        let presented = rest.trim_ascii();
        if presented.is_empty() {
            return Err(Denied::Malformed);
        }
        let theirs = Digest::of(presented);
        let diff = self.0.as_bytes().iter().zip(theirs.as_bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if std::hint::black_box(diff) == 0 { Ok(()) } else { Err(Denied::Wrong) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    #[test]
    fn only_the_right_bearer_token_passes() {
        let t = AdminToken::new("s3cret-token").unwrap();
        assert_eq!(t.check(Some(&header("Bearer s3cret-token"))), Ok(()));
        assert_eq!(t.check(Some(&header("bearer  s3cret-token "))), Ok(()), "the scheme is case-insensitive");
        assert_eq!(t.check(None), Err(Denied::Missing));
        assert_eq!(t.check(Some(&header("Bearer s3cret-tokem"))), Err(Denied::Wrong));
        assert_eq!(t.check(Some(&header("Bearer s3cret-token2"))), Err(Denied::Wrong));
        assert_eq!(t.check(Some(&header("Basic czNjcmV0"))), Err(Denied::Malformed));
        assert_eq!(t.check(Some(&header("s3cret-token"))), Err(Denied::Malformed));
        assert_eq!(t.check(Some(&header("Bearer "))), Err(Denied::Malformed));
    }

    #[test]
    fn a_token_a_header_cannot_carry_is_refused_without_being_shown() {
        for bad in ["", "two words", "tab\there", "naïve"] {
            let e = AdminToken::new(bad).unwrap_err();
            assert!(bad.is_empty() || !e.contains(bad), "{e}");
        }
        let t = AdminToken::new("hunter2-hunter2").unwrap();
        assert!(!format!("{t:?}").contains("hunter2"));
        for d in [Denied::Missing, Denied::Malformed, Denied::Wrong] {
            assert!(!d.message().contains("hunter2"));
        }
    }
}
