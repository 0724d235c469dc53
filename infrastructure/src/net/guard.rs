//! The address guard: which addresses a user-chosen URL may reach, and an HTTP client that
//! connects only to addresses the guard has checked.
//!
//! Invariants:
//! - only `http` and `https` URLs with a host pass [`AddressGuard::check_url`];
//! - a host name is resolved once, by the guard's resolver, and the connection goes to the
//!   addresses it checked (no second lookup a DNS-rebinding server could answer differently);
//!   a name with any refused address is refused whole;
//! - an IP-literal host (which the connector does not resolve) is checked by
//!   [`GuardedClient::request`] before the request is built;
//! - the client follows no redirect and uses no proxy: a caller that follows redirects builds
//!   each hop with [`GuardedClient::request`] again, so every hop is re-checked;
//! - loopback, private, link-local, shared, multicast, documentation and reserved ranges (IPv4,
//!   IPv6, and IPv4 embedded in IPv6) are refused unless private addresses are allowed
//!   (`NISHAN_ALLOW_PRIVATE_ADDRESSES=true`, for tests and closed networks).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The environment variable that lets sources and webhooks reach private addresses.
pub const ALLOW_PRIVATE_ENV: &str = "NISHAN_ALLOW_PRIVATE_ADDRESSES";

/// Why the guard refused a URL or an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("only http and https URLs may be fetched")]
    Scheme,
    #[error("the URL has no host")]
    NoHost,
    #[error("the address {0} is private, loopback or reserved")]
    PrivateAddress(IpAddr),
    #[error("the host {0} could not be resolved")]
    Unresolvable(String),
}

/// Which addresses outbound requests may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressGuard {
    allow_private: bool,
}

impl AddressGuard {
    /// A guard refusing private addresses unless `allow_private`.
    pub fn new(allow_private: bool) -> Self {
        Self { allow_private }
    }

    /// The guard the environment asks for: private addresses only with
    /// `NISHAN_ALLOW_PRIVATE_ADDRESSES=true`.
    pub fn from_env() -> Self {
        let allow = std::env::var(ALLOW_PRIVATE_ENV).map(|v| v.trim().eq_ignore_ascii_case("true")).unwrap_or(false);
        Self::new(allow)
    }

    /// Whether private addresses are allowed.
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Whether a connection to `ip` is allowed.
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip)
    }

    /// Checks a URL's scheme and, for an IP-literal host, its address. A named host is checked
    /// when it is resolved (by the [`GuardedClient`]'s resolver, or [`AddressGuard::resolve`]).
    pub fn check_url(&self, url: &Url) -> Result<(), Refusal> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refusal::Scheme);
        }
        match url.host() {
            None => Err(Refusal::NoHost),
            Some(url::Host::Domain(name)) => match name.parse::<IpAddr>() {
                Ok(ip) => self.check_ip(ip),
                Err(_) => Ok(()),
            },
            Some(url::Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip)),
        }
    }

    fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        if self.permits(ip) { Ok(()) } else { Err(Refusal::PrivateAddress(ip)) }
    }

    /// Resolves `host` and returns its addresses if every one is permitted.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Refusal> {
        let found: Vec<SocketAddr> =
            tokio::net::lookup_host((host, port)).await.map_err(|_| Refusal::Unresolvable(host.to_owned()))?.collect();
        if found.is_empty() {
            return Err(Refusal::Unresolvable(host.to_owned()));
        }
        for addr in &found {
            self.check_ip(addr.ip())?;
        }
        Ok(found)
    }

    /// An HTTP client whose connections go only to addresses this guard permits. `builder`
    /// carries the caller's timeouts and headers; the guard sets the resolver, turns redirects
    /// and proxies off.
    pub fn client(&self, builder: reqwest::ClientBuilder) -> reqwest::Result<GuardedClient> {
        let client = builder
            .dns_resolver(Arc::new(GuardedResolver { guard: *self }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()?;
        Ok(GuardedClient { guard: *self, client })
    }
}

/// An HTTP client behind an [`AddressGuard`]; it follows no redirects.
#[derive(Debug, Clone)]
pub struct GuardedClient {
    guard: AddressGuard,
    client: reqwest::Client,
}

impl GuardedClient {
    /// A request to `url`, refused before anything is sent if the URL is refused. (A named host
    /// is checked again, address by address, when the connection is made.)
    pub fn request(&self, method: reqwest::Method, url: Url) -> Result<reqwest::RequestBuilder, Refusal> {
        self.guard.check_url(&url)?;
        Ok(self.client.request(method, url))
    }

    /// The guard this client applies.
    pub fn guard(&self) -> AddressGuard {
        self.guard
    }
}

/// Whether the refusal of a failed request came from the guard (the resolver's refusal travels
/// inside reqwest's connect error).
pub fn refusal_of(error: &reqwest::Error) -> Option<Refusal> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(refusal) = e.downcast_ref::<Refusal>() {
            return Some(refusal.clone());
        }
        source = e.source();
    }
    None
}

struct GuardedResolver {
    guard: AddressGuard,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.guard;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = guard.resolve(&host, 0).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Whether `ip` is a globally routable unicast address (not loopback, private, link-local,
/// shared, multicast, documentation, benchmarking or reserved; IPv4 inside IPv6 is judged as
/// the IPv4 address it carries).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                  // "this network"
        || a == 10                            // private
        || a == 127                           // loopback
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254)             // link-local
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0)     // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)     // documentation
        || (a == 192 && b == 88 && c == 99)   // 6to4 relay anycast
        || (a == 192 && b == 168)             // private
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100)  // documentation
        || (a == 203 && b == 0 && c == 113)   // documentation
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || (s[0] & 0xfe00) == 0xfc00  // unique local
        || (s[0] & 0xffc0) == 0xfe80  // link-local
        || (s[0] & 0xffc0) == 0xfec0  // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00  // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard-only
        || (s[0] == 0x2001 && s[1] < 0x0200)) // IETF protocol assignments (Teredo, ORCHID, ...)
}

/// The IPv4 address an IPv6 address carries: IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible
/// (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:AABB:CCDD::).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..5] == [0, 0, 0, 0, 0] && (s[5] == 0xffff || (s[5] == 0 && !(s[6] == 0 && s[7] <= 1))) {
        return Some(low());
    }
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return Some(low());
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_loopback_link_local_and_reserved_are_refused() {
        for s in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2001:db8::1",
            "fec0::1",
        ] {
            assert!(!is_public(ip(s)), "{s} should be refused");
            assert!(!AddressGuard::new(false).permits(ip(s)));
            assert!(AddressGuard::new(true).permits(ip(s)), "{s} allowed when configured");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for s in ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(ip(s)), "{s} should pass");
        }
    }

    #[test]
    fn urls_are_checked_for_scheme_and_literal_hosts() {
        let guard = AddressGuard::new(false);
        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(guard.check_url(&url("ftp://example.org/")), Err(Refusal::Scheme));
        assert_eq!(guard.check_url(&url("file:///etc/passwd")), Err(Refusal::Scheme));
        assert_eq!(guard.check_url(&url("http://127.0.0.1:8080/")), Err(Refusal::PrivateAddress(ip("127.0.0.1"))));
        assert_eq!(
            guard.check_url(&url("http://[::ffff:169.254.169.254]/")),
            Err(Refusal::PrivateAddress(ip("::ffff:169.254.169.254")))
        );
        // Decimal and hex spellings of an address are normalised by the URL parser.
        assert!(guard.check_url(&url("http://2130706433/")).is_err());
        assert!(guard.check_url(&url("http://0x7f.1/")).is_err());
        assert_eq!(guard.check_url(&url("https://example.org/a")), Ok(()));
        assert_eq!(AddressGuard::new(true).check_url(&url("http://127.0.0.1/")), Ok(()));
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused_when_connecting() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = AddressGuard::new(false).client(reqwest::Client::builder()).unwrap();
        let url = Url::parse(&format!("http://localhost:{port}/")).unwrap();
        let err = client.request(reqwest::Method::GET, url).unwrap().send().await.unwrap_err();
        assert!(matches!(refusal_of(&err), Some(Refusal::PrivateAddress(_))), "refused by the guard: {err:?}");
        assert_eq!(
            guard_resolve_literal(AddressGuard::new(false), port).await,
            Err(Refusal::PrivateAddress(ip("127.0.0.1")))
        );
    }

    async fn guard_resolve_literal(guard: AddressGuard, port: u16) -> Result<Vec<SocketAddr>, Refusal> {
        guard.resolve("127.0.0.1", port).await
    }
}
