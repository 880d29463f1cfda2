//! CORS (the Fetch standard's CORS protocol) for `[http] cors_origins`: any origin (`*`, the
//! default: the data is public map data), the origins listed, or none (`[]`).
//!
//! Applied by the request middleware ([`super::Track`]) and the 404 fallback rather
//! than as a layer of its own: on a cached tile the extra layer cost 8% of the throughput.

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// The CORS answer of this server, with its header values made once.
#[derive(Debug, Clone)]
pub struct Cors {
    mode: Mode,
    expose: HeaderValue,
    methods: HeaderValue,
    headers: HeaderValue,
}

#[derive(Debug, Clone)]
enum Mode {
    Any,
    List(Vec<HeaderValue>),
}

impl Cors {
    /// From the configured origins: `*` anywhere in the list means any.
    pub fn new(origins: &[String]) -> Cors {
        let mode = if origins.iter().any(|o| o == "*") {
            Mode::Any
        } else {
            Mode::List(
                origins
                    .iter()
                    .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
                    .collect(),
            )
        };
        Cors {
            mode,
            expose: HeaderValue::from_static("etag,x-request-id,x-atlas-thinned,retry-after"),
            methods: HeaderValue::from_static("GET,POST,OPTIONS"),
            headers: HeaderValue::from_static("authorization,content-type,if-none-match"),
        }
    }

    /// The value of `Access-Control-Allow-Origin` for a request from `origin`, if allowed.
    fn allow(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        match &self.mode {
            Mode::Any => Some(HeaderValue::from_static("*")),
            Mode::List(list) => origin.filter(|o| list.contains(o)).cloned(),
        }
    }

    /// The answer to a preflight request (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`), None for any other request.
    pub fn preflight(&self, method: &Method, headers: &HeaderMap) -> Option<Response> {
        if method != Method::OPTIONS
            || !headers.contains_key(header::ORIGIN)
            || !headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        if let Some(allow) = self.allow(headers.get(header::ORIGIN)) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, self.methods.clone());
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, self.headers.clone());
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("86400"),
            );
        }
        self.vary(h);
        Some(r)
    }

    /// Adds the CORS headers of an actual request's answer.
    pub fn decorate(&self, origin: Option<&HeaderValue>, r: &mut Response) {
        let h = r.headers_mut();
        if let Some(allow) = self.allow(origin) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
            h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, self.expose.clone());
        }
        self.vary(h);
    }

    /// With a list of origins the answer depends on the caller's: caches must know.
    fn vary(&self, h: &mut HeaderMap) {
        if matches!(self.mode, Mode::List(_)) {
            h.append(header::VARY, HeaderValue::from_static("origin"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(origin: &str, preflight: bool) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        if preflight {
            h.insert(
                header::ACCESS_CONTROL_REQUEST_METHOD,
                HeaderValue::from_static("GET"),
            );
        }
        h
    }

    #[test]
    fn any_origin_list_or_none() {
        let any = Cors::new(&["*".into()]);
        let r = any
            .preflight(&Method::OPTIONS, &req("https://a.example", true))
            .unwrap();
        assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(any
            .preflight(&Method::GET, &req("https://a.example", true))
            .is_none());
        assert!(any
            .preflight(&Method::OPTIONS, &req("https://a.example", false))
            .is_none());

        let list = Cors::new(&["https://a.example/".into()]);
        let r = list
            .preflight(&Method::OPTIONS, &req("https://a.example", true))
            .unwrap();
        assert_eq!(
            r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://a.example"
        );
        assert_eq!(r.headers()[header::VARY], "origin");
        let r = list
            .preflight(&Method::OPTIONS, &req("https://b.example", true))
            .unwrap();
        assert!(r
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none());

        let none = Cors::new(&[]);
        let mut r = StatusCode::OK.into_response();
        none.decorate(Some(&HeaderValue::from_static("https://a.example")), &mut r);
        assert!(r
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none());
    }
}
