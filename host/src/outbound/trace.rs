//! W3C trace context: a served request's `traceparent` / `tracestate` are added to the
//! guest's hops bound for the sidecar origin (the same exact-origin check as the token),
//! never to another origin, and not when the guest set its own `traceparent`.

use http::{HeaderMap, HeaderValue};
use url::Url;

use crate::dapr_env::SidecarEndpoint;

/// The longest `tracestate` propagated; W3C asks every platform to carry at least 512
/// characters, and a longer one is dropped rather than cut.
pub const MAX_TRACESTATE_LEN: usize = 512;

/// A valid inbound trace context, checked once when the request arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    traceparent: HeaderValue,
    tracestate: Option<HeaderValue>,
}

impl TraceContext {
    /// The context of an inbound request's headers: `None` unless `traceparent` is valid;
    /// `tracestate` kept only beside a valid one, within [`MAX_TRACESTATE_LEN`] and free
    /// of control characters.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let mut parents = headers.get_all("traceparent").iter();
        let parent = parents.next()?;
        if parents.next().is_some() || !valid_traceparent(parent.as_bytes()) {
            return None;
        }
        let mut states = headers.get_all("tracestate").iter();
        let tracestate = match (states.next(), states.next()) {
            (Some(state), None) if valid_tracestate(state.as_bytes()) => Some(state.clone()),
            _ => None,
        };
        Some(Self {
            traceparent: parent.clone(),
            tracestate,
        })
    }

    /// The `traceparent` value.
    pub fn traceparent(&self) -> &HeaderValue {
        &self.traceparent
    }

    /// The `tracestate` value, if one is propagated.
    pub fn tracestate(&self) -> Option<&HeaderValue> {
        self.tracestate.as_ref()
    }
}

/// `00-<32 lowercase hex, not all zero>-<16 lowercase hex, not all zero>-<2 lowercase hex>`;
/// another version (not `ff`) may append `-<more>` after the same 55 characters.
pub fn valid_traceparent(v: &[u8]) -> bool {
    fn hex(s: &[u8]) -> bool {
        s.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }
    fn zero(s: &[u8]) -> bool {
        s.iter().all(|&b| b == b'0')
    }
    if v.len() < 55 {
        return false;
    }
    let (version, trace, parent, flags) = (&v[0..2], &v[3..35], &v[36..52], &v[53..55]);
    let dashes = v[2] == b'-' && v[35] == b'-' && v[52] == b'-';
    let rest_ok = match version {
        b"00" => v.len() == 55,
        _ => v.len() == 55 || v[55] == b'-',
    };
    dashes
        && rest_ok
        && hex(version)
        && version != b"ff"
        && hex(trace)
        && !zero(trace)
        && hex(parent)
        && !zero(parent)
        && hex(flags)
}

/// At most [`MAX_TRACESTATE_LEN`] visible ASCII characters and spaces (tabs allowed
/// around list members), no control characters.
fn valid_tracestate(v: &[u8]) -> bool {
    v.len() <= MAX_TRACESTATE_LEN && v.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// Adds `trace` to `outgoing` when `url` is the sidecar's and the guest's own headers
/// (`guest`) have no `traceparent`.
pub(super) fn add_for_sidecar(
    trace: Option<&TraceContext>,
    sidecar: &SidecarEndpoint,
    url: &Url,
    guest: &HeaderMap,
    outgoing: &mut HeaderMap,
) {
    let Some(trace) = trace else { return };
    if guest.contains_key("traceparent") || !sidecar.is_sidecar(url) {
        return;
    }
    outgoing.insert("traceparent", trace.traceparent.clone());
    match &trace.tracestate {
        Some(state) => {
            outgoing.insert("tracestate", state.clone());
        }
        None => {
            outgoing.remove("tracestate");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn a_valid_traceparent_is_accepted() {
        assert!(valid_traceparent(GOOD.as_bytes()));
        assert!(valid_traceparent(
            b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"
        ));
    }

    #[test]
    fn malformed_traceparents_are_refused() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        ] {
            assert!(!valid_traceparent(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn tracestate_goes_only_with_a_valid_traceparent_and_within_its_cap() {
        let t = TraceContext::from_headers(&headers(&[
            ("traceparent", GOOD),
            ("tracestate", "congo=t61rcWkgMzE"),
        ]))
        .expect("valid");
        assert_eq!(t.tracestate().expect("state"), "congo=t61rcWkgMzE");
        assert!(
            TraceContext::from_headers(&headers(&[
                ("traceparent", "garbage"),
                ("tracestate", "congo=t61rcWkgMzE"),
            ]))
            .is_none()
        );
        let long = format!("a={}", "x".repeat(MAX_TRACESTATE_LEN));
        let t =
            TraceContext::from_headers(&headers(&[("traceparent", GOOD), ("tracestate", &long)]))
                .expect("valid");
        assert!(t.tracestate().is_none());
        // Bytes outside printable ASCII (which `http` still accepts as obs-text).
        let mut odd = headers(&[("traceparent", GOOD)]);
        odd.insert(
            "tracestate",
            HeaderValue::from_bytes("a=\u{e9}".as_bytes()).expect("obs-text"),
        );
        let t = TraceContext::from_headers(&odd).expect("valid");
        assert!(t.tracestate().is_none());
        assert!(
            TraceContext::from_headers(&headers(&[("traceparent", GOOD), ("traceparent", GOOD)]))
                .is_none()
        );
    }

    #[test]
    fn added_for_the_sidecar_only_and_never_over_the_guests() {
        let sidecar = SidecarEndpoint::parse("http://127.0.0.1:3500").expect("endpoint");
        let trace =
            TraceContext::from_headers(&headers(&[("traceparent", GOOD), ("tracestate", "a=b")]));
        let to = |u: &str, guest: &HeaderMap| {
            let mut out = guest.clone();
            add_for_sidecar(
                trace.as_ref(),
                &sidecar,
                &Url::parse(u).expect("url"),
                guest,
                &mut out,
            );
            out
        };
        let none = HeaderMap::new();
        let out = to("http://127.0.0.1:3500/v1.0/publish/p/t", &none);
        assert_eq!(out["traceparent"], GOOD);
        assert_eq!(out["tracestate"], "a=b");
        let out = to("http://127.0.0.1:3501/", &none);
        assert!(out.get("traceparent").is_none() && out.get("tracestate").is_none());
        let out = to("http://localhost:3500/", &none);
        assert!(out.get("traceparent").is_none());
        let own = "00-11111111111111111111111111111111-2222222222222222-00";
        let guest = headers(&[("traceparent", own), ("tracestate", "mine=1")]);
        let out = to("http://127.0.0.1:3500/", &guest);
        assert_eq!(out["traceparent"], own);
        assert_eq!(out["tracestate"], "mine=1");
    }
}
